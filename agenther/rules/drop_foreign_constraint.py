"""``drop_constraint`` in the languages other than English: the unmet limit goes with the
words that introduce it ("con un importe superior a 500 €", "für unter 60 €", "que tengan más
de 8 en IMDb"), and nothing is added: the request keeps the user's words only.
"""

from __future__ import annotations

import re

from agenther.constraints import Constraint
from agenther.rules.cut_repair import (
    DOUBLED_STOP_RE,
    SPACE_PUNCT_RE,
    SPACES_RE,
    aside_cut,
    condition_span,
    without_justification,
)

_FOREIGN_LENGTH_LIMIT_RE = re.compile(
    r"\b(?:palabras?|mots?|wörtern?|worten?|parole|palavras?|woorden|słów|słowa|ord|caracteres"
    r"|caractères|zeichen|caratteri|tekens|znaków|líneas|lignes|zeilen|righe|linhas|frases"
    r"|phrases|sätze|páginas?|pages?|seiten|pagine)\b",
    re.IGNORECASE,
)
# "kurze Mitteilung", "un aviso corto", "une courte note": the adjective that asked for the
# length limit too. (Not French "court" or Nordic "kort", which also name a court and a card.)
_FOREIGN_SHORT_RE = re.compile(
    r"\s+(?:kurze[nrsm]?|korte|krótk\w+|cort[oa]s?|courtes?|(?<!en )(?<!in )brev[ei]s?|curt[oa]s?)"
    r"(?=[\s,.;:!?])",
    re.IGNORECASE,
)


# What introduces a constraint in the languages requests come in: a preposition ("con",
# "für", "à", "por") with an optional article and the attribute it limits ("con un importe",
# "con una RAL"), a relative pronoun and its verb ("que tengan", "die kosten"), or "and" with
# a verb of cost ("y cuesten"). Any other word before the comparator belongs to the request
# ("met dweilfunctie onder de €300": the mop function stays).
_FOREIGN_ARTICLES = (
    r"un|une|una|uno|el|la|los|las|le|les|l['’]|des|du|der|die|das|den|dem|ein|eine|einen|einem"
    r"|einer|een|het|de|il|lo|gli|o|os|as|um|uma|su|sus|son|sa|ses|ihr|ihre|zijn|suo|sua|seu"
)
_FOREIGN_ATTRIBUTES = (
    r"precios?|importe|coste|costo|costos|tarifa|valoración|nota|puntuación|calificación"
    r"|presupuesto|sueldo|salario|alquiler|renta|prix|tarif|note|budget|loyer|salaire|coût"
    r"|preis|kosten|miete|warmmiete|kaltmiete|gehalt|bewertung|prijs|huur|salaris|beoordeling"
    r"|prezzo|valutazione|voto|ral|stipendio|affitto|preço|valor|avaliação|salário|aluguel"
    r"|custo|cena|ocena|czynsz|pensja|wynagrodzenie|distancia|distance|entfernung|afstand"
    r"|distanza|distância|odległość|duración|durée|dauer|duur|durata|duração"
    # An auction's estimate: "avec une estimation basse inférieure à 3 000 €".
    r"|estimation(?:\s+(?:basse|haute))?|estimación|stima|schätzung|schätzpreis|taxatie"
    r"|estimativa|wycena"
)
_COST_VERBS = (
    r"cuest[ae]n?|coût(?:e|ent)|kostet|kosten|cost(?:a|ano|i|ino)|cust(?:a|am|e|em)"
    r"|kosztuj[eą]|kost"
)
_FOREIGN_LEAD_RE = re.compile(
    rf"""(?:,\s*)?(?<![^\s,;(])(?:(?:y|e|et|und|en|i|oraz)\s+)?(?:
      (?:con|mit|avec|com|met|z|ze|por|pour|für|para|à|a|per|za|po|til|till|för|for)
        (?:(?:\s+(?:{_FOREIGN_ARTICLES}))?(?:\s+(?:{_FOREIGN_ATTRIBUTES}))?
        # "avec une mensualité maximale de 1 400 €": any noun after an article is what the
        # limit was on, and would dangle without it.
        | \s+(?:{_FOREIGN_ARTICLES})\s+[^\W\d_]+)
    # "; tiene que terminar antes de las 13:00": the whole obligation is the limit's.
    | (?:(?:tiene|tienen|tenga|tengan|tem|têm|hay)\s+)?
      (?:que|qui|che|die|dat|welche|welcher|welches|które|który|która)\s+[^\W\d_]+
        (?:\s+(?:{_FOREIGN_ARTICLES}))?(?:\s+(?:{_FOREIGN_ATTRIBUTES}))?
    | (?:cuy[oa]s?|dont|dessen|deren|il\s+cui|la\s+cui|cuj[oa]|waarvan|którego|której)
        (?:\s+(?:{_FOREIGN_ARTICLES}))?\s+(?:{_FOREIGN_ATTRIBUTES})
        (?:\s+(?:es|sea|est|soit|ist|è|sia|é|seja|is|jest))?
    | (?:{_COST_VERBS})
    # "…, ma non dopo le 16": a negated bound goes with its "not" and its "but".
    | (?:(?:pero|aber|mais|ma|mas|maar|ale|men)\s+)?(?:non|nicht|pas|no|não|niet|nie|inte|ikke)
    # "in höchstens 5 Stichpunkten", "en moins de 100 mots": a bare preposition right before
    # the bound belongs to it, and so does the "of" of a size ("een aankondiging van maximaal
    # 80 woorden", "ogłoszenie o długości maksymalnie 80 słów").
    | (?:in|en|em|w|van|von|de|di|da|o\s+długości)
    )\s+$""",
    re.IGNORECASE | re.VERBOSE,
)
# "más de 8 en IMDb": where the figure was measured goes with it at a clause's end.
_FOREIGN_MEASURED_AFTER_RE = re.compile(
    r"\s+(?:en|de|di|auf|op|sur|na|w|in|bei|su)\s+[\w'’-]+(?=\s*(?:[,.;:!?]|$))",
    re.IGNORECASE,
)
# "…, mas mantém-no abaixo de 20 MB": a verb that bounds the whole request ("keep it"), with
# the "but" or "and" before it, goes with its bound.
_FOREIGN_WHOLE_BOUND_BEFORE_RE = re.compile(
    r"(?:,\s*)?(?:(?:mas|pero|aber|mais|ma|maar|ale|y|e|et|und|en|i)\s+)?(?<!\w)"
    r"(?:mantém-[nl]?[oa]s?|mantenha-[oa]s?|mantê-l[oa]s?|mant[eé]nl[oa]s?|mantenerl[oa]s?"
    r"|garde[zr]?-l[ea]s?|maintene?z?-l[ea]s?|halte?n?\s+(?:sie\s+)?(?:es|ihn|sie)"
    r"|houd\s+(?:het|hem|ze)|tienil[oa]|mantienil[oa]|mantenerl[oa]|trzymaj\s+(?:to|go))\s*$",
    re.IGNORECASE,
)
_FOREIGN_NONE_BEFORE_RE = re.compile(
    r"(?:,\s*|\s+)(?:sem|sin|sans|senza|ohne|zonder|bez|utan|uden|uten)\s+(?:(?:nenhum|nenhuma"
    r"|ningún|ninguna|ninguno|aucun|aucune|alcun|alcuna|alcuno|irgendein\w*|een|żadn\w*|någon"
    r"|något|noen|nogen)\s+)?[^\W\d_]+\s*$",
    re.IGNORECASE,
)
_FOREIGN_DANGLING_RE = re.compile(
    r"\s*(?:[,;]|(?<!\w)(?:y|e|et|und|en|i|oraz|och|og|ja|és|ve|samt|sowie|con|mit|avec|com|met"
    r"|por|pour|für|para|que|qui|che"
    r"|die|dat|mas|pero|aber|mais|ma|maar|ale"
    # "artículos … publicados" once "después de 2021" went: a participle that needs its date.
    r"|publicad[oa]s?|pubblicat[oiae]|publiée?s?|veröffentlicht|gepubliceerd|opublikowan[aey]"
    r"|estrenad[oa]s?|lançad[oa]s?|erschienen(?:en)?|verschenen|uscit[oiae]))"
    r"\s*(?=[.!?。]|$)",
    re.IGNORECASE,
)


_ABBREVIATION_STOP_RE = re.compile(r"\.\s+(?=[^\W\d_A-ZÀ-ÖØ-Þ])")
_FOREIGN_AND_AFTER_RE = re.compile(r"\s+(?:y|e|et|und|en|i|och|og|oraz)\s+(?=\w)", re.IGNORECASE)
_SENTENCE_AND_RE = re.compile(r"([.!?]\s+)(?:y|e|et|und|och|og|oraz|ou|oder|ed)\s+(\w)")


def drop_foreign_constraints(original: str, unmet: list[Constraint]) -> str | None:
    """``original`` without the ``unmet`` constraints and the words that introduce them."""
    text = original
    cut_from = len(original)  # where a whole clause went: the constraints after it went too
    for constraint in sorted(unmet, key=lambda c: c.start, reverse=True):
        start, end = constraint.start, constraint.end
        if start >= cut_from:
            continue
        # "til under 1.500 kr. på Biavlerbutikken": the stop of an abbreviated unit, which a
        # lower-case word follows, goes with the limit.
        if _ABBREVIATION_STOP_RE.match(text, end):
            end += 1
        if condition := condition_span(text, start, end):
            cut_from, cut_end = condition
            text = text[:cut_from].rstrip() + " " + text[cut_end:].lstrip()
            continue
        # (Not after money: "por menos de 90 € en Amazon" names the shop.)
        # (Nor after a length: "80 słów na koncert" says what the text is for.)
        measured = (
            None
            if constraint.currency or _FOREIGN_LENGTH_LIMIT_RE.search(constraint.text)
            else _FOREIGN_MEASURED_AFTER_RE.match(text, end)
        )
        if measured:
            end = measured.end()
        if aside := aside_cut(text, start, end):
            text = aside
            continue
        end = without_justification(text, end)
        lead = _FOREIGN_LEAD_RE.search(text[:start])
        if lead:
            start = lead.start()
            # "…, sem nenhuma faixa com mais de 5 minutos": what the limit excluded goes too.
            if excluded := _FOREIGN_NONE_BEFORE_RE.search(text[:start]):
                start = excluded.start()
        elif whole := _FOREIGN_WHOLE_BOUND_BEFORE_RE.search(text[:start]):
            start = whole.start()
        if text[start : start + 1] == "," and (joined := _FOREIGN_AND_AFTER_RE.match(text, end)):
            # ", com no máximo 50 palavras e sem revelar o final": the comma the limit opened
            # with takes the place of its "and".
            text = text[:start].rstrip() + ", " + text[joined.end() :]
            continue
        text = text[:start].rstrip() + " " + text[end:].lstrip()
    if any(_FOREIGN_LENGTH_LIMIT_RE.search(c.text) for c in unmet):
        text = _FOREIGN_SHORT_RE.sub("", text, count=1)
    text = SPACE_PUNCT_RE.sub(r"\1", SPACES_RE.sub(" ", text))
    for _ in range(2):
        text = _FOREIGN_DANGLING_RE.sub("", text).rstrip()
    # "… (notas_ep57.txt). y sin mencionar …" once "Máximo 80 palabras" went: the sentence
    # starts after the "and".
    text = _SENTENCE_AND_RE.sub(lambda m: m.group(1) + m.group(2).upper(), text).strip()
    text = DOUBLED_STOP_RE.sub(r"\1", re.sub(r",\s*,", ",", text))
    if len(text.split()) < 3:
        return None
    return text if text[-1:] in ".!?" else text + "."
