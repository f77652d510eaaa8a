"""Abbreviations French GPs write, and phrasings that mean the same thing.

A query token equal to an abbreviation is searched as each of its meanings, in French and in
English (classification labels are written in either). Phrase synonyms bridge the words
clinicians use and the wording of the classifications (``insuffisance rénale chronique`` is
ICD-10's ``maladie rénale chronique``; ``diabète de type 2`` is ICPC-2's
``diabète non insulino-dépendant``).

    >>> expansions("DT2")[:2]
    ('diabete de type 2', 'type 2 diabetes mellitus')
    >>> expansions("hta")[0]
    'hypertension arterielle'
    >>> expansions("diabete")
    ()
    >>> len(ABBREVIATIONS) >= 30
    True
"""

from __future__ import annotations

from terminology.normalise import fold

__all__ = [
    "ABBREVIATIONS",
    "FRENCH_WORDS",
    "LOW_INFORMATION_WORDS",
    "PHRASE_SYNONYMS",
    "expansions",
]

# Keys are folded (lower case, no accents); values are written in plain words, French first.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    # cardiovascular
    "hta": ("hypertension arterielle", "hypertension essentielle", "essential hypertension"),
    "fa": ("fibrillation auriculaire", "atrial fibrillation"),
    "acfa": ("arythmie complete par fibrillation auriculaire", "atrial fibrillation"),
    "ic": ("insuffisance cardiaque", "heart failure"),
    "icc": ("insuffisance cardiaque congestive", "congestive heart failure"),
    "avc": ("accident vasculaire cerebral", "stroke", "infarctus cerebral", "cerebral infarction"),
    "ait": ("accident ischemique transitoire", "transient cerebral ischaemic attack"),
    "idm": ("infarctus du myocarde", "myocardial infarction"),
    "sca": ("syndrome coronarien aigu", "acute coronary syndrome"),
    "ep": ("embolie pulmonaire", "pulmonary embolism"),
    "tvp": ("thrombose veineuse profonde", "deep vein thrombosis"),
    "aomi": ("arteriopathie obliterante des membres inferieurs", "peripheral arterial disease"),
    "fevg": ("fraction d ejection ventriculaire gauche", "left ventricular ejection fraction"),
    "ta": ("tension arterielle", "pression arterielle", "blood pressure"),
    "pa": ("pression arterielle", "tension arterielle", "blood pressure"),
    # metabolic and renal
    "dt1": ("diabete de type 1", "type 1 diabetes mellitus", "diabete insulino dependant"),
    "dt2": ("diabete de type 2", "type 2 diabetes mellitus", "diabete non insulino dependant"),
    "did": ("diabete insulino dependant", "diabete de type 1", "insulin dependent diabetes"),
    "dnid": (
        "diabete non insulino dependant",
        "diabete de type 2",
        "non insulin dependent diabetes",
    ),
    "irc": ("insuffisance renale chronique", "maladie renale chronique", "chronic kidney disease"),
    "mrc": ("maladie renale chronique", "chronic kidney disease"),
    "ira": ("insuffisance renale aigue", "acute kidney failure"),
    "dfg": ("debit de filtration glomerulaire", "glomerular filtration rate"),
    "dfge": ("debit de filtration glomerulaire estime", "estimated glomerular filtration rate"),
    "hba1c": ("hemoglobine glyquee", "hemoglobin a1c", "glycated haemoglobin"),
    "ldl": ("cholesterol ldl", "ldl cholesterol", "low density lipoprotein cholesterol"),
    "hdl": ("cholesterol hdl", "hdl cholesterol", "high density lipoprotein cholesterol"),
    "imc": ("indice de masse corporelle", "body mass index"),
    "tsh": ("thyreostimuline", "thyrotropin", "thyroid stimulating hormone"),
    "inr": ("international normalized ratio", "inr"),
    "nfs": ("numeration formule sanguine", "complete blood count"),
    "crp": ("proteine c reactive", "c reactive protein"),
    # respiratory, digestive, sleep, urology
    "bpco": (
        "bronchopneumopathie chronique obstructive",
        "maladie pulmonaire obstructive chronique",
        "chronic obstructive pulmonary disease",
    ),
    "saos": ("syndrome d apnees obstructives du sommeil", "obstructive sleep apnoea", "apnee"),
    "rgo": ("reflux gastro oesophagien", "gastro oesophageal reflux disease"),
    "hbp": ("hypertrophie benigne de la prostate", "benign prostatic hyperplasia"),
    "mici": ("maladie inflammatoire chronique de l intestin", "inflammatory bowel disease"),
    "tca": ("trouble du comportement alimentaire", "eating disorder"),
    # drugs
    "aod": ("anticoagulant oral direct", "direct oral anticoagulant", "direct factor xa inhibitor"),
    "avk": ("antivitamine k", "antagoniste de la vitamine k", "vitamin k antagonist"),
    "iec": (
        "inhibiteur de l enzyme de conversion",
        "ace inhibitor",
        "angiotensin converting enzyme inhibitor",
    ),
    "ara2": (
        "antagoniste des recepteurs de l angiotensine 2",
        "angiotensin 2 receptor blocker",
        "angiotensin 2 receptor blockers arbs plain",
    ),
    "isrs": (
        "inhibiteur selectif de la recapture de la serotonine",
        "selective serotonin reuptake inhibitor",
    ),
    "ains": ("anti inflammatoire non steroidien", "non steroidal anti inflammatory"),
    "ipp": ("inhibiteur de la pompe a protons", "proton pump inhibitor"),
    "glp1": ("agoniste du glp 1", "glucagon like peptide 1 analogue", "glp 1 analogue"),
    "isglt2": ("inhibiteur du sglt2", "sodium glucose co transporter 2 sglt2 inhibitor"),
    "idpp4": ("inhibiteur de la dpp 4", "dipeptidyl peptidase 4 dpp 4 inhibitor"),
    "statin": ("hmg coa reductase inhibitors", "inhibiteurs de l hmg coa reductase"),
    "statins": ("hmg coa reductase inhibitors", "inhibiteurs de l hmg coa reductase"),
    "statine": ("inhibiteurs de l hmg coa reductase", "hmg coa reductase inhibitors"),
    "statines": ("inhibiteurs de l hmg coa reductase", "hmg coa reductase inhibitors"),
    "pill": ("combined oral contraceptives", "contraceptifs oestroprogestatifs combines"),
    "pilule": ("contraceptifs oestroprogestatifs combines", "combined oral contraceptives"),
    "neuroleptic": ("antipsychotic drugs", "antipsychotiques"),
    "neuroleptics": ("antipsychotic drugs", "antipsychotiques"),
    "nrt": ("nicotine replacement therapy", "substitut nicotinique"),
    "tns": ("substitut nicotinique", "nicotine replacement therapy"),
    # words sponsors write for smoking and lung function (words, not abbreviations)
    "smoker": ("tobacco smoking status", "tobacco use", "statut tabagique"),
    "smokers": ("tobacco smoking status", "tobacco use", "statut tabagique"),
    "smoking": ("tobacco smoking status", "tobacco use", "statut tabagique"),
    "fumeur": ("statut tabagique", "tabagisme", "tobacco use"),
    "fumeuse": ("statut tabagique", "tabagisme", "tobacco use"),
    "tabac": ("statut tabagique", "tabagisme", "tobacco use"),
    "tabagisme": ("statut tabagique", "tobacco smoking status", "tobacco use"),
    # issue 18 (status): pregnancy and breast-feeding status observations
    "pregnancy": ("pregnancy status", "statut de grossesse"),
    "pregnant": ("pregnancy status", "statut de grossesse"),
    "enceinte": ("statut de grossesse", "pregnancy status"),
    "breastfeeding": ("breastfeeding status", "statut d allaitement"),
    "allaitement": ("statut d allaitement", "breastfeeding status"),
    "lactation": ("breastfeeding status", "statut d allaitement"),
    "fev1": ("forced expiratory volume in 1 second", "volume expiratoire maximal en une seconde"),
    "vems": ("volume expiratoire maximal en une seconde", "forced expiratory volume in 1 second"),
    "fvc": ("forced vital capacity", "capacite vitale forcee"),
    "cvf": ("capacite vitale forcee", "forced vital capacity"),
    "spirometry": ("forced expiratory volume in 1 second", "fev1 fvc ratio spirometry"),
    "spirometrie": ("volume expiratoire maximal en une seconde", "rapport vems cvf spirometrie"),
    "spo2": ("oxygen saturation by pulse oximetry", "saturation en oxygene"),
    "alat": ("alanine aminotransferase", "alat"),
    "asat": ("aspartate aminotransferase", "asat"),
    "ggt": ("gamma glutamyl transferase", "gamma gt"),
}

# Each group lists phrasings of one meaning; a query containing one is also searched as the
# others. Phrases are written folded (no accents) and without stop words mattering.
PHRASE_SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("diabete", "diabete sucre", "diabetes mellitus"),
    ("hypertension", "hypertension essentielle", "essential hypertension"),
    ("hypertension arterielle", "hypertension essentielle", "essential hypertension"),
    ("high blood pressure", "essential hypertension"),
    (
        "insuffisance renale chronique",
        "maladie renale chronique",
        "chronic kidney disease",
        "chronic renal failure",
    ),
    ("chronic renal failure", "chronic kidney disease"),
    (
        "diabete type 2",
        "diabete non insulino dependant",
        "non insulin dependent diabetes",
        "type 2 diabetes mellitus",
    ),
    ("type 2 diabete", "type 2 diabetes mellitus", "diabete non insulino dependant"),
    (
        "diabete type 1",
        "diabete insulino dependant",
        "insulin dependent diabetes",
        "type 1 diabetes mellitus",
    ),
    ("type 1 diabete", "type 1 diabetes mellitus", "diabete insulino dependant"),
    ("accident vasculaire cerebral", "stroke", "infarctus cerebral", "cerebral infarction"),
    ("fibrillation auriculaire", "fibrillation flutter auriculaire", "atrial fibrillation"),
    ("depression", "episode depressif", "depressive episode"),
    ("depressive disorder", "depressive episode"),
    (
        "bronchopneumopathie chronique obstructive",
        "maladie pulmonaire obstructive chronique",
        "chronic obstructive pulmonary disease",
    ),
    ("copd", "chronic obstructive pulmonary disease"),
    ("cancer", "tumeur maligne", "malignant neoplasm"),
    ("infarctus myocarde", "myocardial infarction"),
    ("heart attack", "myocardial infarction"),
    ("hemoglobine glyquee", "hemoglobin a1c", "glycated haemoglobin"),
)

# French medical words and their English equivalent in classification labels, so that a French
# query also finds English-only labels (ICD-10 WHO and ICD-10-CM ship English text only). Words
# spelt alike in both languages (infection, fibrillation, migraine...) need no entry.
FRENCH_WORDS: dict[str, str] = {
    word: english
    for line in """
    accident:accident|aigu:acute|aigue:acute|allergie:allergy|alcoolisme:alcohol dependence
    anemie:anaemia|angor:angina|anxiete:anxiety|apnee:apnoea|arterielle:arterial
    arteriel:arterial|arthrose:arthrosis|asthme:asthma|auriculaire:atrial|benigne:benign
    bronchite:bronchitis|cancer:malignant neoplasm|carence:deficiency|cardiaque:heart
    cardiopathie:heart disease|cataracte:cataract|cerveau:brain|cerebrale:cerebral
    chronique:chronic|cirrhose:cirrhosis|coeur:heart|coronarien:coronary|coronaire:coronary
    demence:dementia|depression:depressive|depressif:depressive|diabete:diabetes
    dyslipidemie:hyperlipidaemia|embolie:embolism|enfant:child|epaule:shoulder
    epilepsie:epilepsy|essentielle:essential|estomac:stomach|fer:iron|foie:liver
    gastrique:gastric|gauche:left|genou:knee|glaucome:glaucoma|glomerulaire:glomerular
    glycemie:glucose|glyquee:glycated|goutte:gout|grippe:influenza|grossesse:pregnancy
    hanche:hip|hemoglobine:haemoglobin|hepatite:hepatitis
    hypercholesterolemie:hypercholesterolaemia|hyperthyroidie:hyperthyroidism
    hypothyroidie:hypothyroidism|infarctus:infarction|insomnie:insomnia
    insuffisance:failure|ischemique:ischaemic|jambe:leg|lombalgie:low back pain
    maladie:disease|maligne:malignant|myocarde:myocardial|obesite:obesity
    oesophagien:oesophageal|osteoporose:osteoporosis|peau:skin|pied:foot|pneumonie:pneumonia
    poids:weight|poumon:lung|polyarthrite:polyarthritis|primitive:primary|profonde:deep
    pulmonaire:pulmonary|rein:kidney|renale:kidney|renal:kidney|rhumatoide:rheumatoid
    schizophrenie:schizophrenia|secondaire:secondary|sein:breast|sommeil:sleep
    surdite:hearing loss|surpoids:overweight|tabagisme:tobacco use|tete:head
    thrombose:thrombosis|transitoire:transient|trouble:disorder|ulcere:ulcer
    urinaire:urinary|vasculaire:vascular|veineuse:venous|ventriculaire:ventricular
    vessie:bladder|zona:zoster|sans:without|autre:other|precision:unspecified
    """.strip().splitlines()
    for pair in line.strip().split("|")
    for word, english in [pair.split(":")]
}

LOW_INFORMATION_WORDS: frozenset[str] = frozenset(
    word
    for word in """
    unspecified specified other autre nos precision precise precisee sans primary primitive
    essential essentielle idiopathic idiopathique mellitus sucre
    confirmed confirme confirmee uncomplicated
    """.strip().splitlines()
    for word in word.split()
)
"""Label words (after :func:`~terminology.normalise.tokens`) that say "the ordinary kind" (or
only state that the diagnosis is certain): a label made of the query and such words means
what the query means (``Pregnancy confirmed`` for ``grossesse``, ``Hypertension
uncomplicated`` for ``hypertension``)."""


def expansions(token: str) -> tuple[str, ...]:
    """Meanings of an abbreviation typed as one word (case and accents ignored), or ``()``."""
    return ABBREVIATIONS.get(fold(token).replace("-", ""), ())
