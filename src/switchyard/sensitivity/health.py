"""Health data: clinical content about an identifiable person.

The rule. A request is in the ``health`` class when

1. it carries a medical identifier (a medical record number: an ``MRN`` span, class ``health``), or
2. its text is clinical -- at least ``CLINICAL_MIN_TERMS`` distinct clinical terms (vital signs,
   diagnoses, encounters, medications and doses, labs, clinical shorthand such as "s/p", "hx",
   "pt") -- *and* it names or identifies someone: any ``pii`` span (a person, a date, a phone number,
   an address, a national id...).

Clinical text without an identifier ("what is the usual dose of metoprolol after an MI?") is not health
data; an identifier without clinical content is plain PII. Both together are, as under HIPAA: the
identifier is what turns clinical facts into protected health information.
"""

from __future__ import annotations

import re

from .vocabulary import words

CLINICAL_MIN_TERMS = 2

CLINICAL_WORDS = words(
    "pt pts pt's patient patients inpatient outpatient admitted admission readmitted discharge discharged icu "
    "ccu micu sicu csru nicu a&e ward bedside rounds consult nursing npn triage bp hr rr spo2 sat sats tmax "
    "afebrile febrile vss nsr tachy tachycardia tachycardic brady bradycardia bradycardic diagnosis diagnosed "
    "diagnoses dx hx h/o s/p c/o r/o symptom symptoms prognosis biopsy surgery surgical postop post-op preop "
    "pre-op chemo chemotherapy radiotherapy oncology metastatic metastasis metastases tumor tumour cancer "
    "carcinoma lymphoma leukemia leukaemia diabetes diabetic hypertension htn chf copd cad stemi nstemi "
    "stroke cva sepsis septic pneumonia uti hiv aids hepatitis pregnant pregnancy miscarriage depression "
    "depressive anxiety schizophrenia schizophrenic bipolar psychosis dementia seizure seizures epilepsy "
    "epileptic asthma infection fracture edema oedema nausea vomiting fever rash cough sob pain lethargic "
    "confused sedated sedation intubated extubated vent ventilator trach dialysis transfusion prbc ffp dnr "
    "dni perrl perrla mae gcs lab labs mri ct cxr x-ray ekg ecg echo ultrasound abg wbc hct hgb inr ptt "
    "creatinine bun lactate troponin glucose potassium culture cultures mg mcg meq iv ivf po prn bid tid qid "
    "qd qhs gtt drip medication medications meds prescribed prescription dose dosage insulin heparin lasix "
    "morphine fentanyl propofol antibiotic antibiotics vanco vancomycin zosyn levophed coumadin warfarin "
    "metoprolol lopressor tylenol ativan haldol"
)
CLINICAL_PHRASES = (
    "intensive care",
    "emergency department",
    "progress note",
    "o2 sat",
    "vital signs",
    "blood pressure",
    "heart rate",
    "sinus rhythm",
    "complains of",
    "history of",
    "myocardial infarction",
    "shortness of breath",
    "chest pain",
    "code status",
    "a&o",
)
CLINICAL_TOKEN = re.compile(r"[a-z0-9][a-z0-9&/'+-]*")


class ClinicalContext:
    """Decides whether a text is clinical: ``CLINICAL_MIN_TERMS`` distinct clinical terms in it."""

    name = "clinical"

    def __init__(self, min_terms: int = CLINICAL_MIN_TERMS) -> None:
        self.min_terms = min_terms

    def terms(self, text: str) -> set[str]:
        low = text.lower()
        found = set(CLINICAL_WORDS.intersection(CLINICAL_TOKEN.findall(low)))
        if len(found) < self.min_terms:
            found.update(p for p in CLINICAL_PHRASES if p in low)
        return found

    def is_clinical(self, text: str) -> bool:
        return len(self.terms(text)) >= self.min_terms
