"""A tiny hand-written corpus for retrieval tests (each query has one clearly relevant document)."""

from __future__ import annotations

from switchyard.rag.types import Document

DOCS = [
    Document("heart", "Atrial fibrillation is an irregular heart rhythm treated with anticoagulants.", "Cardiology"),
    Document("tumour", "Chemotherapy shrinks the tumour before surgery in many breast cancer cases.", "Oncology"),
    Document("bones", "Osteoporosis makes bones brittle; calcium and vitamin D slow the loss.", "Orthopaedics"),
    Document("sleep", "Obstructive sleep apnoea causes snoring and daytime tiredness; CPAP helps.", "Sleep"),
    Document("kidney", "Dialysis filters the blood when the kidneys fail.", "Nephrology"),
    Document("skin", "Melanoma is a skin cancer that starts in pigment cells.", "Dermatology"),
]
QUERIES = {
    "q1": ("anticoagulant drugs for an irregular heart rhythm", "heart"),
    "q2": ("renal failure blood filtering", "kidney"),
    "q3": ("brittle bones calcium", "bones"),
    "q4": ("snoring and feeling tired during the day", "sleep"),
}
