"""The offline rules analyzer: deterministic Russian patterns, same output as the LLM.

How it reads a transcript (Whisper's: no speaker labels, uneven punctuation):
1. Split into sentences at . ? ! and normalise (lower case, ё → е).
2. A sentence is a sales dialogue marker if it talks money, payment or buying
   ("с вас", "рублей", "оплата", "мне ...", greetings); a dialogue with none is staff
   talk (`is_sales_dialogue = false`) and never counts as an upsell.
3. A sentence is an offer when it has an offer cue ("рекомендую", "не хотите",
   "может быть", "возьмёте", "к нему", "нужен?", "гарантию", ...) and does not talk
   about a service question: bag, store/loyalty card, receipt, payment method, bonus
   points, something free.
4. The one to three sentences after an offer are the customer's answer: a leading "нет"
   / "не", "не надо", "в другой раз", "у меня есть" is a refusal; "давайте", "да",
   "беру", "возьму" an acceptance. Those sentences are not searched for offers.
5. The quality score follows the prompt's rubric with countable proxies: relevance (the
   offer is tied to the purchase: "к нему", "для ...", "этой же серии"), benefit named
   ("чтобы", "выгоднее", "защитит", ...), timing (after the main item), not pushy.

Known limits (see README): no speaker diarisation, so a customer asking "а к нему
есть чехол?" can read as the seller's offer; an offer phrased without any cue word
("а вот ещё свечи") is missed; sarcasm and indirect refusals ("я подумаю") are read
literally; `product` is a rough cut of the offer sentence, not a parsed noun phrase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from salescontrol.analysis.schema import Analysis, Offer

VERSION = "rules_v1"
ANALYZER = "rules"


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_SALES = _any(
    r"\bс вас\b",
    r"\bруб\w*",
    r"\bитого\b",
    r"\bоплат\w*",
    r"\bкартой\b",
    r"\bналичн\w*",
    r"\bчек\b",
    r"\bпроб(ей|ью|ива)\w*",
    r"\bздравствуйте\b|\bздрасте\b|\bдобрый (день|вечер)\b|\bдо свидания\b",
    r"^мне\b",
    r"\bберу\b|\bвозьму\b",
    r"\bсколько стоит\b",
    r"\bпокупк\w*",
    r"\bу вас есть\b",
    r"\d{2,}",
)

_OFFER = _any(
    r"\bрекоменд\w*",
    r"\bпосовет\w*|\bсоветую\b",
    r"\bпредлож\w*|\bпредлага\w*",
    r"\bпопробуйте\b",
    r"\bжелаете\b",
    r"\bхотите\b|\bхотели бы\b",
    r"\bвозьмете\b|\bвозьмите\b",
    r"\bпосмотрите\b",
    r"\bнужен\b|\bнужна\b|\bнужны\b",
    r"\bможет( быть)?\b.*\b(к|еще|сразу|возьм\w*)\b",
    r"\bбудем (делать|брать|оформлять)\b",
    r"\b(сделаем|добавим|наклеим)\b",
    r"\bк \w+ добавить\b|\bдобавить к\b",
    r"\bгаранти\w*|\bстраховк\w*",
)

# Service questions that are not upsells, whatever cue they use.
_SERVICE = _any(
    r"\bпакет\w*",
    r"\bкарт(а|у|ы|ой|е|очк\w*)\b",
    r"\bчек(а|ом|и)?\b",
    r"\bоплат\w*|\bналичн\w*|\bсдач\w*|\bрассрочк\w*",
    r"\bбонус\w*|\bбалл\w*|\bскидочн\w*|\bбесплатн\w*",
    r"\bqr\b|\bкуар\b",
    r"\bс собой\b|\bна месте\b",
    r"\bпочт\w*|\bпаспорт\w*|\bрецепт\w*",
)

# A customer's own request ("мне ...", "дайте ...") or answer ("не нужен") is no offer.
_REQUEST = re.compile(
    r"^(мне|дайте|подскажите|у вас есть|а у вас|а есть|нет|неа|не (надо|нужно|нужен|нужна|нужны))\b"
)

_REFUSE_START = re.compile(r"^(нет|не|неа|не надо|не нужно)\b")
_ACCEPT = _any(
    r"\bдавайте\b|\bдавай\b",
    r"\bберу\b|\bберем\b|\bвозьму\b|\bвозьмем\b",
    r"\bдобавьте\b|\bоформим\b|\bнаклеим\b|\bпробейте\b",
    r"^(да|ага|угу|конечно|можно)\b",
)
_REFUSE = _any(
    r"\bне надо\b|\bне нужно\b|\bне буду\b|\bне хочу\b",
    r"\bв другой раз\b|\bпотом\b|\bобойдусь\b|\bхватит\b",
    r"\bу меня (все |уже )?есть\b|\bесть у меня\b",
)

_RELEVANT = _any(
    r"\bк (нему|ней|ним|этому|этой)\b",
    r"\bк \w+(у|ю|е|ам|ям|и)\b",
    r"\bдля \w+",
    r"\bэтой же серии\b|\bпод (этот|цвет|ваш)\w*",
    r"\bк кофе\b",
)
_BENEFIT = _any(
    r"\bчтобы\b",
    r"\bвыгодн\w*|\bдешевле\b|\bскидк\w*|\bакци\w*|\bв подарок\b|\bпо цене\b",
    r"\bзащит\w*|\bпродлит\b|\bпокрывает\b",
    r"\bлучше\b|\bудобн\w*|\bпомога\w*|\bмягче\b|\bменьше\b|\bбольше\b|\bсвеж\w*",
    r"\bбудет (отлично|хорошо|удобно)\b",
)
# Words dropped when cutting `product` out of an offer sentence.
_STOP = frozenset(
    (  # noqa: SIM905 (a word list reads better as one string)
        "и а еще сразу вам вы не ли может быть у нас есть вот тоже это наши ваш ну да "
        "рекомендую советую могу предложить предлагаю попробуйте желаете хотите хотели бы "
        "возьмете возьмите посмотрите нужен нужна нужны будем делать брать оформлять "
        "сделаем добавим наклеим добавить давайте сегодня как раз"
    ).split()
)
_REPLY_WINDOW = 3


@dataclass(frozen=True)
class _Found:
    offer: Offer
    index: int  # sentence number, for timing
    relevant: bool
    benefit: bool


def sentences(text: str) -> list[str]:
    """Normalised sentences of a transcript."""
    text = text.lower().replace("ё", "е")
    cleaned = (" ".join(re.sub(r"[^\w\s-]", " ", p).split()) for p in re.split(r"[.?!…]+", text))
    return [c for c in cleaned if c]


def _is_offer(sentence: str) -> bool:
    return (
        bool(_OFFER.search(sentence))
        and not _SERVICE.search(sentence)
        and not _REQUEST.match(sentence)
    )


def _reply(sentences_after: list[str]) -> tuple[bool | None, int]:
    """The customer's answer to an offer and how many sentences it took."""
    for used, sentence in enumerate(sentences_after[:_REPLY_WINDOW], start=1):
        if _REFUSE_START.match(sentence):
            return False, used
        if _ACCEPT.search(sentence):
            return True, used
        if _REFUSE.search(sentence):
            return False, used
    return None, 0


def _product(sentence: str) -> str:
    words = re.sub(r"\bк \w+", " ", sentence).split()
    return " ".join([w for w in words if w not in _STOP][:4]) or sentence


def _offers(parts: list[str]) -> list[_Found]:
    found: list[_Found] = []
    i = 0
    while i < len(parts):
        sentence = parts[i]
        if not _is_offer(sentence):
            i += 1
            continue
        accepted, used = _reply(parts[i + 1 :])
        offer = Offer(product=_product(sentence), quote=sentence, accepted=accepted)
        relevant = bool(_RELEVANT.search(sentence))
        benefit = bool(_BENEFIT.search(" ".join(parts[i : i + 2])))
        found.append(_Found(offer, i, relevant, benefit))
        i += 1 + used
    return found


def _score(found: list[_Found]) -> int:
    if not found:
        return 0
    score = 3
    score += 2 if any(f.relevant for f in found) else 0
    score += 2 if any(f.benefit for f in found) else 0
    score += 1 if found[0].index > 0 else 0  # offered after the customer named a purchase
    score += 1 if any(f.offer.accepted for f in found) else 0
    refused_then_pushed = any(
        a.offer.accepted is False and b.index > a.index for a in found for b in found
    )
    score += 1 if len(found) <= 2 and not refused_then_pushed else 0
    return min(score, 10)


def _texts(is_sales: bool, found: list[_Found], accepted: bool | None) -> tuple[str, str]:
    if not is_sales:
        return (
            "Разговор не похож на продажу: нет покупки, цены или оплаты.",
            "Не требуется: это не диалог с покупателем.",
        )
    if not found:
        return (
            "Продажа без попытки допродажи.",
            "Предложите товар к покупке (сопутствующий, больший объём, гарантию) "
            "и назовите, чем он полезен покупателю.",
        )
    products = ", ".join(f.offer.product for f in found)
    answer = {True: "покупатель согласился", False: "покупатель отказался", None: "ответ неясен"}
    summary = f"Продавец предложил: {products}; {answer[accepted]}."
    if not any(f.benefit for f in found):
        advice = "Называйте пользу предложения для покупателя, а не только товар."
    elif not any(f.relevant for f in found):
        advice = "Связывайте предложение с тем, что покупатель уже выбрал."
    elif accepted is False:
        advice = "Хорошая попытка; предложите альтернативу подешевле или другой товар к покупке."
    else:
        advice = "Хорошая допродажа: продолжайте предлагать товары к покупке с пользой."
    return summary, advice


def analyze(text: str) -> Analysis:
    """Analyse a transcript with the rules; deterministic, no network."""
    parts = sentences(text)
    found = _offers(parts)
    is_sales = bool(found) or any(_SALES.search(s) for s in parts)
    if not is_sales:
        found = []
    answers = [f.offer.accepted for f in found]
    accepted = True if True in answers else (False if False in answers else None)
    summary, recommendation = _texts(is_sales, found, accepted)
    return Analysis(
        is_sales_dialogue=is_sales,
        upsell_attempted=bool(found),
        offers=tuple(f.offer for f in found),
        customer_accepted=accepted,
        quality_score=_score(found),
        summary=summary,
        recommendation=recommendation,
        analyzer=ANALYZER,
        model=None,
        prompt_version=VERSION,
        prompt_tokens=0,
        completion_tokens=0,
        cost_usd=0.0,
    )
