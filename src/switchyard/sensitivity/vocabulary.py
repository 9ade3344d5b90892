"""Fixed vocabularies the rule detectors share: cue words, clinical shorthand, eponym nouns, months."""

from __future__ import annotations


def words(text: str) -> frozenset[str]:
    """A word set from a space-separated string (kept as one string so the lists stay readable)."""
    return frozenset(text.split())


TITLES = words(
    "dr doctor mr mrs ms miss mx mister madam prof professor sir dame lady lord rev reverend fr pastor rabbi "
    "imam capt captain sgt officer judge hon nurse sra srta herr frau mme mlle"
)
RELATIVES = words(
    "wife husband spouse son daughter mother mom mum mommy father dad daddy brother sister sibling niece "
    "nephew grandson granddaughter grandchild grandmother grandfather grandma grandpa granny aunt auntie "
    "uncle cousin friend neighbor neighbour partner fiance fiancee fiancé fiancée girlfriend boyfriend hcp "
    "proxy guardian caregiver stepson stepdaughter stepmother stepfather dtr sis bro roommate colleague "
    "coworker boss landlord sibs niece's"
)
# Weaker cues: a role or a verb before a name. After one of these a word must also not be common.
ROLE_CUES = words(
    "attending resident intern fellow np pa pcp surgeon physician cardiologist oncologist neurologist "
    "nephrologist intensivist hospitalist anesthesiologist radiologist pharmacist therapist chaplain sw rn "
    "lpn provider patient pt client customer user author director manager employee student teacher agent "
    "representative coordinator named per paged page notified called contacted seen spoke talked met dear hi "
    "hello thanks cc attn by signed from"
)
# Words after a name that confirm it.
POST_NAME = words("md rn np pa phd do jr sr ii iii iv lpn msw lcsw dds esq dnp crna mph")
NAME_PARTICLES = words("van von der den de del della di da dos das du la le ten ter bin ibn al el st")

MONTHS = words(
    "january february march april may june july august september october november december jan feb mar apr "
    "jun jul aug sep sept oct nov dec"
)
WEEKDAYS = words("monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun")

# Nouns that make the capitalised word before them an eponym, not a person ("Wilson disease",
# "Foley catheter", "Fisher's exact test", "Southern blot").
EPONYM_NOUNS = words(
    "disease diseases syndrome syndromes disorder disorders anomaly sign signs reflex test tests tumor tumors "
    "tumour tumours sarcoma lymphoma carcinoma leukemia leukaemia anemia anaemia ataxia dystrophy palsy "
    "phenomenon criteria classification scale score equation law effect cell cells body bodies duct node "
    "nodes gene genes locus protein proteins catheter tube procedure operation maneuver manoeuvre technique "
    "method blot analysis curve exact correlation coefficient distribution equilibrium type variant deformity "
    "fracture ulcer hernia angina aneurysm cyst sheath space fascia ligament canal gland glands virus fever "
    "encephalopathy neuropathy myopathy cardiomyopathy dysplasia chorea lesion lesions granules nodule "
    "nodules collar drain drains sump valve bag hugger needle stockings position regimen repair shunt formula "
    "triad pentad sequence sequences family families kindred kindreds pedigree mutation mutations allele "
    "alleles patients carriers cohort cohorts population populations diet index ratio rule model factor isoform enzyme phenotype genotype hypothesis "
    "theorem paradox principle"
)

# Clinical shorthand that collides with names in upper-case notes ("MAE" = moves all extremities,
# "FOLEY" the catheter, "ASA" aspirin). Never taken for a name.
CLINICAL_SHORTHAND = words(
    "tan amber pink coral olive hazel ruby mae abd asa foley swan ganz hickman broviac dobhoff trendelenburg fowler fowlers babinski glasgow braden "
    "morse kussmaul cheyne stokes korotkoff doppler holter ambu yankauer pyxis heimlich bair huber "
    "aspen pratt penrose hemovac blakemore sengstaken levin salem coude gomco levo vanc mag "
    "phos cal lido bicarb echo cath ho np pa md rn pt pts ot slp sw cm pcp vss nsr sr st hr bp sbp dbp map "
    "cvp pap co ci rr sat sats temp tmax neuro resp cv gi gu id heme endo renal perrl perrla gcs rass cam ls "
    "bs hob oob bsc prn po iv im sq sl bid tid qid qd qhs gtt mg mcg meq ml cc npo tf tfs uo bm bms cp sob "
    "doe dc yo lasix versed haldol ativan dilaudid tylenol coumadin heparin lovenox insulin zosyn flagyl "
    "cipro levaquin protonix pepcid colace senna lactulose albuterol atrovent prednisone digoxin lopressor "
    "captopril hydralazine nitro dopamine levophed vasopressin amiodarone diltiazem cardizem dextrose tpn peg "
    "picc ett ogt ngt cpap bipap peep abg vbg cbc inr ptt wbc hct hgb plt bun lytes ekg ecg cxr ct mri kub "
    "eeg icu ccu micu sicu csru nicu picu pacu ed er or ace arb rle lle rue lue bka aka ivc svc lad rca pda "
    "ra rv lv la ms mrs tele dnr dni cmo fsbs bg ss rij lij ac hs sc iud ob gyn ent urology ortho rehab"
)

# Words that are never names whatever the case: function words, directions, amino-acid codes.
FUNCTION_WORDS = words(
    "a an the and or but nor so yet for of in on at to from by with without within into onto upon over under "
    "about above below after before between among through during since until while as than then thus hence "
    "therefore however moreover furthermore although though because if unless whether this that these those "
    "it its he she they we you i me him her them us my his our their your who whom whose which what when "
    "where why how all any both each either neither every some such no not only also very just even still "
    "here there now is are was were be been being has have had do does did can could may might must shall "
    "should will would north south east west northern southern eastern western northeast northwest "
    "southeast southwest central upper lower new old great saint san santa"
)
AMINO_ACIDS = words("ala arg asn asp cys gln glu gly his ile leu lys met phe pro ser thr trp tyr val")

# Words that end an organisation, a facility or a street: a name right before one is part of that.
STREET_SUFFIXES = words(
    "street st avenue ave road rd boulevard blvd lane ln drive dr court ct place pl way terrace circle "
    "parkway pkwy highway hwy square sq crescent close trail alley row plaza"
)
FACILITY_WORDS = words(
    "hospital hospitals clinic clinics center centre medical healthcare hospice infirmary rehab "
    "rehabilitation institute university college school nursing home manor"
)
