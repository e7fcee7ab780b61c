"""The offline rules analyzer: seller proposals and the customer's answers, no network.

How it reads a transcript (see README "Upsell analysis"):
1. Units: with speaker roles, each turn's sentences, tagged with the role; without, the
   sentences of the text, and an unpunctuated run is cut again where a turn plainly
   starts ("да", "нет", "давайте", "с вас", …).
2. A unit is an offer when the seller (or, without roles, whoever says it) proposes
   something: an offer verb ("рекомендую", "не хотите", "возьмёте", "берите", "положить?",
   "добавим?", "…, может сразу …", "им бы …"), or a proposal frame ("к нему", "в тон",
   "заодно", "со скидкой", "всего на … дороже", "обычно берут", "пригодится", "а вот к
   этому у нас новый …", "без поводка никак") that is a question or gets an answer;
   and it is none of: a service question (bag, card, receipt, payment, bonuses, age
   check, "с собой" unless offered, a free service: "упаковать? это бесплатно"),
   "anything else?", a substitute for a missing item, a customer's own request ("дайте",
   "а … есть?") or an answer (the seller's "есть, …" after her "… ещё есть?", or his "да,
   …" naming what she asked about; with roles, advice on what she asked: "судака или
   окуня? — судака берите"), which of what she takes ("какая длина нужна?"), what she
   takes described ("он свежий …") or handed to her ("вот, примерьте"), a reminder about
   her own thing ("флешку свою не забудьте"). "С вас 210 и вот …" is cut into the bill
   and what follows it; so is her total with the card's discount ("со скидкой 665").
3. The customer's answer is the next unit(s) (with roles: what she says before the
   seller speaks again): irony ("ага, щас"), a leading "нет"/"не", "обойдусь", "я
   подумаю", "дома есть" are a refusal; "давайте", "да", "беру", "уговорили", "одну" an
   acceptance, and so is a short reply naming the item or one of its variants ("синий";
   "ранжевый" for "оранжевый", its first sound lost). A question about the item, or a
   reply with neither, waits for her next reply (up to four) while the seller answers
   her; the seller's "понял(а)" takes it as a no; a reply that never says yes reads as a
   refusal (people say yes plainly), no reply at all as unknown — unless what the
   seller does next shows the item on the bill ("добавила", a total "с футляром", or an
   earlier price plus the item's): her yes lost to ASR or roles.
4. Staff talk (informal "ты", shifts, deliveries; with roles: no customer speaks) with
   no sale in it is `is_sales_dialogue = false` and never an upsell.
5. The quality score follows the prompt's rubric with countable proxies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from salescontrol.analysis.pii import NUMBER_WORDS
from salescontrol.analysis.schema import Analysis, Offer
from salescontrol.analysis.transcript import Turn

VERSION = "rules_v11"
ANALYZER = "rules"


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# An offer verb or form: the seller proposes, in the polite "вы" or as "shall I …?".
_OFFER_VERB = _any(
    r"\bрекомендую\b|\bрекомендуем\b|\bпосоветую\b|\bсоветую\b",
    r"\bпредлож(у|им|ить)\b|\bпредлагаю\b|\bпредлагаем\b",
    r"\bпопробуйте\b|\bжелаете\b|\bхотите\b|\bхотели бы\b",
    r"\bвозьмете\b|\bвозьмите\b|\bберете\b|\bберите\b",
    r"\bпосмотрите\b|\bгляньте\b|\bпримерьте\b|\bпосмотрим\b|\bрассмотрите\b|\bпоказать\b",
    r"\bне забудьте\b|\bбудем (делать|брать|оформлять|клеить)\b|^(а |ну )?может\b",
    r"\bможет (сразу|еще|вам|тогда|заодно)\b|\b(ему|ей|им|вам) бы\b",
    r"\b(?!(нет|не|да|мне|ну)\b)\w+ (не )?(нужен|нужна|нужно|нужны)\b",
    # "картошку фри добавим?" heard as "картошку в предобавим": a word glued on in front
    r"\w*(добавим|добавить|добавляем)\b|\b(положить|сделать|сделаем|пробить|пробью)\b",
    r"\bдавайте (еще|я)\b.*\bположу\b",
    r"\b(оформим|оформить|оформляем|поклеить|наклеим|наклеить|налить|налью|заменить|поменять)\b",
    r"\b(подберем|подобрать|взять|перелью|залить|набрать|упаковать)\b",
)
# A proposal frame: ties something to the purchase, or sells it.
_FRAME = _any(
    r"\bк (нему|ней|ним|этому|этой|этим)\b",
    r"\bк \w+(у|ю|е|ам|ям|и|ому|ему)\b|\bк (кофе|чаю|вину|пиву|выпечке)\b",
    r"\bв тон\b|\bпод цвет\b|\bпод (него|нее|них|эт\w+)\b|\bв комплект\w*|\bкомплектом\b",
    r"\bзаодно\b|\bсразу\b|\bеще\b|\bвтор(ой|ую|ое|ая)\b|\bбольш\w+\b|\bпобольше\b|\bкомбо\b",
    r"\bза \w+ рубл\w*|\bплюс \w+ рубл\w*",
    r"\bскидк\w*|\bакци\w*|\bпо цене\b|\bв подарок\b|\bполцены\b|\bдешевле\b|\bдороже\b",
    r"\bвыгодн\w*|\bпроцент\w*|\bминус \w+|\bразница\b|\bдо полного\b",
    r"\bберут\b|\bпокупают\b|\bпригодит\w*|\bидеальн\w*|\bсмотрится\b",
    r"\bпопулярн\w*|\bсвеж\w*|\bиспекли\b|\bпривезли\b|\bпришл\w*|\bвкусн\w*",
    r"\bпоступил\w*|\bнов(ый|ая|ое|ые|инк\w*)\b|\bнабор\b",
    r"\bу нас (сегодня|сейчас)\b|\bсегодня у нас\b",
    r"\b(наш|наша|наше|наши) (домашн|фирменн|собственн)\w*",  # the shop's own make
)
# "многие берут": the seller's words even where they open like a request ("можно …, многие
# берут"), and a frame that sells on its own
_OTHERS_BUY = re.compile(r"\b(обычно|многие|часто)( \w+)? (берут|покупают)\b")
# A frame that sells on its own, question or not: "к нему …", "обычно берут", "за полцены".
_STRONG_FRAME = _any(
    r"\bк (нему|ней|ним)\b",
    _OTHERS_BUY.pattern + r"|\bтоже пригодит\w*",
    r"\bза полцены\b|\bв подарок\b|\bпо цене (одного|одной|двух)\b|\bвсего на \w+( \w+)? дороже",
    r"\bдороже (всего|лишь|только) на\b",
    r"\bв тон\b|\bпод цвет\b|\bзаодно\b|\bсо скидкой\b|\bпо акции\b",
    # presenting an item as fresh, just made or cheaper by the pack: a statement offer
    r"\bиз печи\b|\bеще (тепл|горяч)\w+|\bтолько (что )?(испекли|приготовили|сварили|привезли)\b",
    r"\bа вот к (этому|этой|этим|нему|ней|ним)\b|\bна пробу\b|\bнабором\b|\bв наборе\b",
    r"\bвыходит (\S+ ){0,3}(дешевле|выгодн\w*)|\b(дешевле|выгоднее) выходит\b|\bв пересчете\b",
    # a bigger or better version of what she took, or one more thing, said as a statement
    r"\bесть (\w+ )?(больш\w+|литров\w+|крупн\w+|побольше|покрупнее|семейн\w+)\b",
    r"\b(еще|также) есть\b",
    r"\bбез \w+( \w+)? (никак|не обойтись|не обойдетесь)\b",  # "без поводка никак"
)
# Questions that are no upsell, whatever else they say.
_SERVICE = _any(
    r"\bпакет\w*|\bкарт(а|у|ы|ой|е|очк\w*)\b(?! памяти)|\bчек\w*",
    r"\bоплат\w*|\bналичн\w*|\bпо карте\b|\bсдач\w*|\bмелоч\w*|\bкуар\b|\bqr\b",
    r"\bбонус\w*|\bбалл\w*|\bпаспорт\w*|\bдокумент\w*|\bвосемнадцат\w*",
    r"\bс собой\b(?! (не )?(желаете|хотите))|\bздесь или\b|\bна месте\b|\bсахар\w*",
    r"\bкрышечк\w*|\bзаписать\b|\bимя\b",
    r"\bпорез\w*|\bнарез\w*|\bвзвес\w*|\bколонк\w*|\bрецепт\w*|\bбесплатн\w*|\bпробни\w*",
    r"\bпримерочн\w*|\bбирк\w*|\bпроверять\b|\bгарантийный талон\b|\bдоставк\w*|\bпогруз\w*",
    r"\bотлож\w*|\bсалфет\w*(?! для)|\bвходит в\b|\bобернуть\b|\bна какую сумму\b",
    r"\bприлож\w*",
)
_NOT_OFFER = re.compile(r"^(как (хотите|скажете)|смотрите сами)\b")
# "флешку свою не забудьте": her own thing, a reminder
_REMINDER = re.compile(r"\b(сво|ваш)\w*\b.*\bне забудьте\b|\bне забудьте\b.*\b(сво|ваш)\w*")
# "какая длина нужна, 35 или 50?", "длина нужна метр или два?": which of what she takes,
# not something more ("соус нужен, сырный или чесночный?" still sells a sauce)
_WHICH = _any(
    r"^(а |так )?(какой|какая|какое|какие|какую|каким|сколько)(?![-\w])",
    r"^(длин|размер|цвет|объем|вес|формат|толщин|диаметр|ширин|высот|мощност)\w* "
    r"(нужен|нужна|нужно|нужны) (\w+ ){1,3}или\b",
)
# "вот, примерьте": handing her what she asked for
_HANDING = re.compile(r"^(вот|держите) (примерьте|посмотрите|гляньте)\b")
# "он сегодня тёплый, только из печи": what she takes described, unless a deal on it
_ABOUT_IT = re.compile(r"^(он|она|оно|они|оба|обе)\b")
_DEAL = re.compile(r"\bполцены\b|\bпо цене\b|\bскидк\w*|\bакци\w*|\bдешевле\b|\bвтор(ой|ая|ую)\b")
_ANYTHING_ELSE = _any(
    r"\bчто-?(нибудь|то) еще\b|\bеще что-?(то|нибудь)\b|\bэто все\b|\bбольше ничего\b",
    r"\bвсе у вас\b|\bможет еще что-?нибудь\b|\bеще что( \w+)? (нужно|надо|нужен|будете)\b",
)
_SUBSTITUTE = _any(
    r"\bтакого нет\b|\bэтого (сейчас )?нет\b|(^|\b\w+ )нет,? есть\b|\bзакончил\w*|\bаналог\w*",
    r"\bвместо\b|\bна складе\b|\bдруг\w+ (фирм|марк|производител)\w*|\bпохож\w*",
    r"\bк сожалению\b|\bне продаем\b",
)
# The seller asking whether the customer has an item ("а чехол для них у вас есть?"):
# a customer's request in her mouth, an offer in the seller's (service items excluded).
_SELLER_ASKS_HAVE = _any(
    r"\bу вас (дома |уже )?(есть|имеется)\b|\b(есть|имеется) у вас\b",
    r"\b(дома|уже) (есть|имеется)\b",
)
# The seller's "можно добавить …": proposing, though it opens like a request.
# "можно с антибликовым покрытием": an option of what she takes, proposed
_SELLER_CAN = re.compile(
    r"^(а )?можно (вам |еще |сразу |и )*(добавить|положить|предложить|взять|со? (?!собой\b)\w+)\b"
)
# A customer's own request or question, or an answer: not the seller proposing.
_REQUEST = _any(
    r"^(а )?(мне|дайте|посчитайте|можно|будьте добры|я возьму|у вас есть|а есть|скажите)\b",
    r"\b(дайте|посчитайте|добавьте|положите|пробейте|подскажите)\b",
    r"\bу вас есть\b|\bесть у вас\b|\bмне еще\b|^(а|и) (к \w+ )?есть\b",
)
_ANSWER_START = re.compile(
    r"^(нет|не|неа|да|ага|угу|давайте|давай|хорошо|ладно|конечно|можно|беру|возьму|ок)\b"
)
_ACCEPT_START = re.compile(
    r"^(да|ага|угу|конечно|можно|окей|ок|давайте|давай|хорошо|ладно|беру|возьму|о давайте)\b"
)
_ACCEPT = _any(
    r"\bдавай\w*|\bберу\b|\bберем\b|\bв[ао]зьму\b|\bвозьмем\b|\bуговорил\w*|\bпусть будет\b",
    r"\bбыла не была\b|\bкидайте\b|\bпочему бы и нет\b|\bэто дело\b|\bпробивайте\b",
    r"\bпробейте\b|\bклейте\b|\bсделайте\b|\bположите\b|\bдобавьте\b|\bнадо взять\b",
    r"(?<!не )\b(?:несите|оформляйте|делайте)\b",
    # "брать так брать", "гулять так гулять"; "как тут устоять"
    r"\b(\w{3,}) так \1\b|\bкак (тут |же )?(устоять|отказаться)\b",
)
# "(ой,) тогда и круассан дайте": taking what was offered (the filler "тогда" is read)
_THEN_TAKE = re.compile(r"\bтогда (и |уж )?(\w+ )?(\w+ )?(дайте|давайте|возьму|беру)\b")
# A question about the offered item, question mark or not ("а пасколько стоит", "с чем они")
_ASKS = re.compile(
    r"сколько\b|\bпочем\b|\bс чем\b|\bразница\b|\bа (что|какой|какая|какие|он|она|они|это)\b"
)
# "ага, … не соблазняйте": telling the seller not to, whatever yes-word opened the reply
_DONT = re.compile(r"\bне \w+(айте|яйте|уйте|ивайте)\b")
# A reply that names how many ("один давайте", "ну раз тёплые, один"): taking the offer,
# unless it also says no ("одной хватит")
_QUANTITY = re.compile(
    r"^(ну )?(раз (\w+ ){1,2})?(то )?(один|одну|одно|одна|два|две|пару|парочку|\d{1,2})\b"
    r"(?! (рубл|руб|р)\b)"
)
_REFUSE_START = re.compile(r"^(ну )?(нет|не|неа|да нет|да не)\b")
_REFUSE = _any(
    r"\bне надо\b|\bне нужн\w*|\bне буду\b|\bне хочу\b|\bобойдусь\b|\bвоздержусь\b",
    r"\bв (другой|следующий|этот) раз\b|\bне сегодня\b|\bпотом\b|\bподумаю\b|\bдорого\b",
    r"\bхватит\b|\bу меня (все |уже )?есть\b|\bдома (где-то )?(есть|было)\b|\bесть у меня\b",
    r"\bпока без\b|\bтолько (это|то|хлеб|кофе)\b|\bвпритык\b|\bно нет\b",
)
_IRONY = _any(
    r"^ага,? (щас|сейчас|еще)\b|\bразбежал\w*|\bденьги лишние\b|\bкредит\b|\bсмешно\b",
    r"^(ну )?(да|конечно|канешна),? (и|а)\b|^да-да\b|\bеще и\b|\bи так\b|\bнет уж\b",
    r"^(ага|ну да|да),? (если бы|как же)\b",
)
_SALES = _any(
    r"\bс вас\b|\bруб\w*|\bитого\b|\bоплат\w*|\bкартой\b|\bналичн\w*|\bчек\b|\bпокупк\w*",
    r"\bздравствуйте\b|\bздрасте\b|\bдобрый (день|вечер)\b|\bдо свидания\b",
    r"^(мне|дайте|можно|посчитайте)\b|\bпожалуйста\b|\bсколько стоит\b|\bу вас есть\b",
    r"\bвсе вместе\b|\bвсего\b|\bбез сдачи\b|\bдержите\b|\bприкладыва\w*",  # paying
)
_STAFF = _any(
    r"\bты\b|\bтебе\b|\bтебя\b|\bслушай\b|\bхочешь\b|\bбудешь\b|\bвозьми\b|\bпринести\b",
    r"\bсмен(а|ы|е|у|ой|щиц\w*)\b|\bприемк\w*|\bинкассац\w*|\bвыручк\w*|\bподсобк\w*|\bпоставщик\w*",
    r"\bдиректор\w*|\bпроверк\w*|\bплан\b|\bобед\w*|\bразгружа\w*|\bвыложи\b|\bценник\w*",
    r"\bсписывать\b|\bперезагруз\w*|\bсходится\b|\bпоменяе(мся|шься)\b|\bотработаю\b",
)
# Where a new turn plainly starts inside a run Whisper wrote without punctuation.
_NO_SPLIT_AFTER = (
    r"(?<!\bне)(?<!\bда)(?<!\bну)(?<!\bа)(?<!\bи)(?<!\bя)(?<!\bой)(?<!\bтакого)(?<!\bэтого)"
    r"(?<!\bним)(?<!\bней)(?<!\bнему)"
)
_TURN_START = re.compile(
    _NO_SPLIT_AFTER + r"\s(?=(?:"
    r"да|нет|неа|не надо|не нужно|не хочу|не буду|не сегодня|давайте|давай|ага|угу|ладно|"
    r"конечно|можно|беру|возьму|уговорили|обойдусь|у меня|дома (?:есть|где)|в другой раз|"
    r"в следующий раз|я подумаю|посмотрю потом|спасибо|хорошо давайте|окей|ну давай\w*|"
    r"ну можно|ну нет|а давайте|ой|не(?=[,.])|"
    r"с вас|итог\w*|всего \d|вот пожалуйста|сейчас|щас|минутку|секунду|приходите|"
    r"всего доброго|хорошего дня|до свидания|пакет\w*|чек|карта магазина|бонусная|"
    r"карточка|картой или|оплата|как оплачивать|баллы|бонусы|копить|без сдачи|мелочи|"
    r"здесь или|вам здесь|паспорт|приложите|карту оформить"
    r")\b)"
)
# In a run with no punctuation at all, an offer's first words start a turn too.
_OFFER_START = re.compile(
    _NO_SPLIT_AFTER + r"\s(?=(?:"
    r"рекомендую|не хотите|(?<!не )хотите|может|могу предложить|попробуйте|посмотрите|"
    r"советую|желаете|возьмите|предлагаю|а к (?:нему|ней|ним)|многие|у нас|"
    r"добавим|положить|пробить|сделаем|оформим|к (?:нему|ней|ним)"
    r")\b)"
)
_NUMBER = "|".join([r"\d+", r"тысяч\w*", *NUMBER_WORDS])  # a total said in digits or words
_FILLER = re.compile(r"^((ну|э|так|вот|значит|слушайте|а|ой|хм|о|ах|тогда)(\s+|$))+")
# A unit that is the seller talking money or leaving: the answer window ends there.
_SELLER_TALK = _any(
    # (a price followed by "больше"/"дороже" is the offer's price difference, not the bill)
    r"^(с вас|итог\w*|всего \d|\d+ (рублей|пожалуйста|руб)\b(?! (больше|дороже)))\b",
    # "со скидкой 665": her total with the card's discount
    rf"^(со скидкой|с учетом скидки|с картой)( ({_NUMBER}))+( рубл\w*)?$",
    r"^(приходите|всего доброго)\b",
    r"^(хорошего дня|спасибо за покупку)\b|\bприход\w* еще\b",
)
_RELEVANT = _any(
    r"\bк (нему|ней|ним|этому|этой|этим)\b|\bк \w+(у|ю|е|ам|ям|и)\b|\bдля \w+",
    r"\bэтой же (серии|линии|коллекции)\b|\bв тон\b|\bпод (этот|цвет|ваш|него|нее|них)\w*",
)
_BENEFIT = _any(
    r"\bчтобы\b|\bвыгодн\w*|\bдешевле\b|\bскидк\w*|\bакци\w*|\bв подарок\b|\bпо цене\b",
    r"\bзащит\w*|\bпродлит\b|\bпокрывает\b|\bдольше\b|\bлучше\b|\bудобн\w*|\bпомога\w*",
    r"\bмягче\b|\bменьше\b|\bбольше\b|\bсвеж\w*|\bполцены\b|\bпригодит\w*",
)
_STOP = frozenset(
    (  # noqa: SIM905 (a word list reads better as one string)
        "и а еще сразу вам вы не ли может быть у нас есть вот тоже это наши ваш ну да "
        "рекомендую советую могу предложить предлагаю попробуйте желаете хотите хотели бы "
        "возьмете возьмите посмотрите нужен нужна нужны будем делать брать оформлять "
        "сделаем добавим наклеим добавить давайте сегодня как раз к нему ней ним сделать "
        "положить пробить взять заодно обычно берут со скидкой сейчас"
    ).split()
)
_REPLY_WINDOW = 3  # units read for the answer without roles
_TURN_REPLIES = 4  # her replies read for the answer with roles (questions first)


@dataclass(frozen=True)
class _Unit:
    norm: str  # lower case, ё → е, no punctuation
    raw: str  # as written in the transcript (what an offer quotes)
    role: str | None
    turn: int
    question: bool


@dataclass(frozen=True)
class _Found:
    offer: Offer
    index: int
    relevant: bool
    benefit: bool


def normalise(text: str) -> str:
    """Lower case, ё → е, punctuation to spaces (hyphens kept, and joined to the word
    before where Whisper wrote "что -нибудь")."""
    text = re.sub(r"\s+-(?=\w)", "-", text.lower().replace("ё", "е"))
    return " ".join(re.sub(r"[^\w\s-]", " ", text).split())


# A sentence that is only a preposition and a word ("к этому."): Whisper put a full stop
# inside a phrase, which goes on in the next sentence.
_CUT_PHRASE = re.compile(r"^(к|ко|в|во|на|с|со|для|под|за|по|из|от|до)( \w+)?$")


def _sentences(text: str) -> list[tuple[str, bool]]:
    """Sentences as written, each with whether it ends with a question mark."""
    parts = [p.strip() for p in re.findall(r"[^.?!…]+[.?!…]*", text) if normalise(p)]
    for k in range(len(parts) - 1, 0, -1):
        if _CUT_PHRASE.match(normalise(parts[k - 1])) and not parts[k - 1].endswith(("?", "!")):
            parts[k - 1 : k + 1] = [f"{parts[k - 1].rstrip('.…')} {parts[k]}"]
    return [(p, "?" in p) for p in parts]


_BILL_ENDS = re.compile(r",|\s(?=[иа] вот\s)")  # where the seller's price may end


def _after_the_bill(piece: str) -> list[str]:
    """ "540 рублей, к ней есть …", "с вас 210 и вот …": the price, then the seller's next words."""
    cut = _BILL_ENDS.search(piece)
    if not cut:
        return [piece]
    head, rest = piece[: cut.end()], piece[cut.end() :]
    if _SELLER_TALK.search(normalise(head)) and len(normalise(rest).split()) >= 3:
        return [head, rest.strip()]
    return [piece]


def units(text: str, turns: list[Turn] | None = None) -> list[_Unit]:
    """The transcript cut into sentence-like units, with roles where they are known."""
    out: list[_Unit] = []
    sources: list[tuple[str | None, str]] = [(None, text)]
    if turns:
        sources = []
        for t in turns:
            if (
                sources
                and sources[-1][0] == t.role
                and not re.search(r"[.?!…]\s*$", sources[-1][1])
            ):
                sources[-1] = (t.role, f"{sources[-1][1]} {t.text}")  # a pause cut a sentence
            else:
                sources.append((t.role, t.text))
    for turn, (role, said) in enumerate(sources):
        for sentence, question in _sentences(said):
            pieces = [sentence]
            if len(sentence.split()) > 3:
                pieces = [p for p in _TURN_START.split(sentence) if normalise(p)]
            if not re.search(r"[.?!,]", sentence.rstrip(".?!… ")) and len(sentence.split()) > 8:
                pieces = [q for p in pieces for q in _OFFER_START.split(p) if normalise(q)]
            pieces = [q for p in pieces for q in _after_the_bill(p)]
            if question and len(pieces) > 1 and normalise(pieces[-1]).startswith("не "):
                pieces[-2:] = [f"{pieces[-2]} {pieces[-1]}"]  # "масло | не нужно?": one ask
            for n, piece in enumerate(pieces):
                asked = question and n == len(pieces) - 1
                out.append(_Unit(normalise(piece), piece, role, turn, asked))
    return out


def _is_offer(parts: list[_Unit], i: int) -> bool:
    unit = parts[i]
    n = unit.norm
    said, bare = n.split(), _FILLER.sub("", n)  # its words; it without a leading filler
    if unit.role not in (None, "seller") or _NOT_OFFER.match(n) or _SELLER_TALK.search(n):
        return False
    if _REMINDER.search(n) or _HANDING.match(n):
        return False
    if _WHICH.match(n) and not _STRONG_FRAME.search(n):
        return False
    if _SERVICE.search(n) or _ANYTHING_ELSE.search(n) or _SUBSTITUTE.search(n):
        return False
    seller_asks = unit.role == "seller" and _SELLER_ASKS_HAVE.search(n)
    seller_can = unit.role == "seller" and _SELLER_CAN.match(n)
    seller_has = unit.role == "seller" and re.match(r"(а |и )?есть\b", n)  # "а есть большой …"
    if _REQUEST.search(n) and not (
        _OTHERS_BUY.search(n) or seller_can or seller_asks or seller_has
    ):
        return False
    if _STAFF.search(n):
        return False
    before = parts[max(0, i - 2) : i]
    if len(said) <= 2 and any(_SERVICE.search(p.norm) for p in before):
        return False  # "оформить?" after "карта есть?": the same service question
    if before and _SUBSTITUTE.search(before[-1].norm):
        return False  # "такого нет. могу предложить …": a substitute
    if re.match(r"есть\b", n) and any(
        p.role == "customer" and re.search(r"\bесть\b", p.norm) for p in before
    ):
        return False  # "(стекло к нему ещё) есть? — есть, …": her request answered
    if any(re.match(r"(это )?бесплатн", p.norm) for p in parts[i + 1 : i + 2]):
        return False  # "упаковать в крафт? это бесплатно": a free service
    asked = before[-1] if before and before[-1].role == "customer" and before[-1].question else None
    if asked and _in_offer(said[0], asked, 5):
        return False  # "судака или окуня? — судака берите": advice on what she asked
    verb = _OFFER_VERB.search(n) or seller_can
    if _ABOUT_IT.match(bare) and not verb and not _DEAL.search(n):
        return False
    if not verb and len(said) > 1 and said[0] in ("да", "нет", "конечно", "есть"):
        # "а батарейки к ней идут? — да, батарейки в комплекте": her question answered (an
        # "а …" is her question, its question mark often lost)
        asks = [p for p in before if p.role == "customer" and (p.question or p.norm[:2] == "а ")]
        if any(_in_offer(said[1], p, 5) for p in asks):
            return False
    if _ANSWER_START.match(bare) and not verb and len(said) <= 4:
        return False
    if re.match(r"(нет|неа)\b", bare):
        return False  # "нет, не нужен": an answer, never an offer
    if _STRONG_FRAME.search(n) or (_RELEVANT.search(n) and _BENEFIT.search(n)) or seller_asks:
        return True  # sells on its own; ties an item to the purchase and praises it; or
        # asks whether the customer has one (a service item was ruled out above)
    replied = _replied(parts[i + 1 :])
    if verb and (len(said) > 1 or unit.question or replied):
        return True
    return bool(_FRAME.search(n)) and (unit.question or replied)


def _verdict_of(text: str) -> bool | None:
    """Words read as an answer: True (yes), False (no) or None (no answer words)."""
    n = _FILLER.sub("", text)
    if _IRONY.search(text) or _IRONY.search(n) or _REFUSE_START.match(n):
        return False
    if _DONT.search(n) and not _ACCEPT.search(n):
        return False
    if _ACCEPT_START.match(n) or _ACCEPT.search(n) or _THEN_TAKE.search(text):
        return True
    if _REFUSE.search(n):
        return False
    if _QUANTITY.match(n):
        return True
    return None


def _reply_text(after: list[_Unit], used: int) -> tuple[str, int]:
    """A reply unit's words and how many units they are: a lone "да"/"ага"/"ну" is read
    together with the unit after it ("ага | щас, ещё и это")."""
    text = after[used].norm
    if len(_FILLER.sub("", text).split()) <= 1 and used + 1 < len(after):
        nxt = after[used + 1]
        if not _SELLER_TALK.search(nxt.norm) and not _SERVICE.search(nxt.norm):
            return f"{text} {nxt.norm}", 2
    return text, 1


def _answer(after: list[_Unit], before: list[_Unit]) -> tuple[bool | None, int]:
    """The customer's answer to an offer (`before[-1]`) and how many units it took."""
    if after and after[0].role is not None:
        return _turn_answer(after, before)
    replied = False
    for used in range(min(_REPLY_WINDOW, len(after))):
        unit = after[used]
        if _SELLER_TALK.search(unit.norm) or _SERVICE.search(unit.norm):
            break
        text, size = _reply_text(after, used)
        verdict = _verdict_of(text)
        if verdict is not None:
            return verdict, used + size
        replied = True
    return (False, 1) if replied else (None, 0)


# The offered item's price said on its own ("290 рублей."): the seller still offering.
_BARE_PRICE = re.compile(r"^\d[\d ]*( (рублей|рубля|рубль|руб))?$")
# A short yes or no that roles gave to the seller (a customer heard close to the seller).
_HEARD_AS_SELLER = re.compile(
    r"^(а |ну |о )*(давайте|давай|беру|возьму|нет|нету|неа|не надо|не нужно)\b"
)


def _answers(unit: _Unit) -> bool:
    """Whether a unit is the customer's: her role, or a short yes/no roles gave the seller."""
    if unit.role == "customer":
        return True
    return len(unit.norm.split()) <= 4 and bool(_HEARD_AS_SELLER.match(unit.norm))


def _seller_goes_on(after: list[_Unit]) -> int:
    """How many units the seller still says before the customer's turn (a pause can cut
    one turn in two), past the offered item's price, stopping at billing or a service
    question."""
    i = 0
    while i < len(after) and after[i].role == "seller" and not _answers(after[i]):
        if _moves_on(after[i]):
            break
        i += 1
    return i


def _reply(after: list[_Unit]) -> list[_Unit]:
    """What the customer says at the start of `after`, up to the seller's next words."""
    end = 0
    while end < len(after) and _answers(after[end]):
        end += 1
    return after[:end]


def _in_offer(word: str, offer: _Unit, letters: int) -> bool:
    """Whether a word names a word (5 letters or more) of the offer: its first `letters`
    letters are inside one ("спреем" for "спрей", "ранжевый" for "оранжевый")."""
    stem = word[:letters]
    return len(stem) == letters and any(stem in w for w in offer.norm.split() if len(w) >= 5)


def _names_the_item(reply: list[_Unit], offer: _Unit) -> bool:
    """A short reply that only names the offered thing ("большой"): choosing it."""
    words = " ".join(u.norm for u in reply).split()
    return len(words) <= 3 and any(_in_offer(w, offer, 5) for w in words)


# The seller taking a reply as a no ("поняла, тогда …")
_ACKNOWLEDGED = re.compile(r"^(\w+ )?(поняла?|ясно|понятно|как хотите)\b")


def _moves_on(unit: _Unit) -> bool:
    """The seller billing (past a bare price), asking a service question or taking a no."""
    n = unit.norm
    billing = _SELLER_TALK.search(n) and not _BARE_PRICE.match(n)
    return bool(billing or _SERVICE.search(n) or _ACKNOWLEDGED.match(n))


def _turn_answer(after: list[_Unit], before: list[_Unit]) -> tuple[bool | None, int]:
    """With roles: what the customer says before the seller speaks again is the answer. A
    reply with neither yes nor no (a question about the item, or words ASR broke) defers
    it to her next reply while the seller answers her; once he bills or asks a service
    question instead, or after `_TURN_REPLIES` replies, a reply that never said yes is a
    no, unless the bill adds the item's price (`_bill_adds_up`)."""
    i = _seller_goes_on(after)
    if i < len(after) and _ACKNOWLEDGED.match(after[i].norm):
        return _bill_adds_up(before, after) or False, i  # "понял, 150": her no, unheard
    replied = False
    for _ in range(_TURN_REPLIES):
        reply = _reply(after[i:])
        if not reply:
            break
        i += len(reply)
        verdict = _verdict_of(" ".join(u.norm for u in reply))
        if verdict is not None:
            return verdict, i
        replied = True
        asked = reply[-1].question or _ASKS.search(" ".join(u.norm for u in reply))
        if not asked and _names_the_item(reply, before[-1]):
            return True, i
        while i < len(after) and not _answers(after[i]):
            if not asked and _moves_on(after[i]):
                return _bill_adds_up(before, after) or False, i
            i += 1  # the seller answers her
    return _bill_adds_up(before, after) or (False if replied else None), i


# A number that is a price: not a size, weight, count or time ("250 миллилитров").
_PRICE = re.compile(
    r"\b(\d+)\b(?! (мл|милли\w*|литр\w*|л|см|сантим\w*|мм|кг|кило\w*|грамм\w*|г|гр|штук\w*"
    r"|шт|процент\w*|раз\w*|минут\w*|час\w*|дн\w*|день|недел\w*|месяц\w*|год\w*|лет|номер\w*"
    r"|размер\w*)\b)"
)
_TOTAL = re.compile(
    r"\bс вас\b|\bитог\w*|\bвсего\b|\bвместе\b|\bтогда\b|\bдоплат\w*|^\d+( рубл\w*)?$"
)


def _prices(units: list[_Unit]) -> list[int]:
    return [int(m.group(1)) for u in units for m in _PRICE.finditer(u.norm)]


def _bill_adds_up(before: list[_Unit], after: list[_Unit]) -> bool:
    """Whether a total said after the offer is an earlier price plus one to three times a
    price said after the offer (400 for the filter, 30 for the washer, "430 тогда"): the
    item went on the bill, whatever ASR made of her yes."""
    base = set(_prices(before))
    for k, unit in enumerate(after):
        items = set(_prices(after[:k])) if _TOTAL.search(unit.norm) else set()
        sums = {(a, a + n * b) for a in base for b in items for n in (1, 2, 3)}
        if any(s == total != a for a, s in sums for total in _prices([unit])):
            return True
    return False


def _replied(after: list[_Unit]) -> bool:
    """Whether the next unit (with roles: the customer's reply, past the seller's own
    sentences that go on before any billing) is a yes or a no."""
    after = after[_seller_goes_on(after) :]
    if not after:
        return False
    if after[0].role is not None:
        reply = _reply(after)
        return bool(reply) and _verdict_of(" ".join(u.norm for u in reply)) is not None
    return _verdict_of(_reply_text(after, 0)[0]) is not None


# The seller putting the item on the bill: "добавила", "пробил".
_ADDED = re.compile(r"\b(добавил|добавила|положил|положила|пробил|пробила)\b")
_WITH = re.compile(r"\bсо? (\w{4,})")
_STEM = 4  # letters of a word that name the item across its endings ("спрей", "спреем")
_BILL_LOOKAHEAD = 12  # units after an offer where the seller's bill is read


def _seller_took_it(offer: _Unit, after: list[_Unit]) -> bool:
    """Whether the seller's words after an offer put the item on the bill: "добавила",
    or a total "с футляром" / "вместе с пропиткой" naming a word of the offer (her yes
    lost to ASR or roles)."""
    for unit in (u for u in after[:_BILL_LOOKAHEAD] if u.role != "customer"):
        billed = _TOTAL.search(unit.norm) or _SELLER_TALK.search(unit.norm)
        named = any(_in_offer(m.group(1), offer, _STEM) for m in _WITH.finditer(unit.norm))
        if _ADDED.search(unit.norm) or (billed and named):
            return True
    return False


def _product(sentence: str) -> str:
    words = re.sub(r"\bк \w+", " ", sentence).split()
    return " ".join([w for w in words if w not in _STOP][:4]) or sentence


def _offers(parts: list[_Unit]) -> list[_Found]:
    found: list[_Found] = []
    i = 0
    while i < len(parts):
        unit = parts[i]
        if not _is_offer(parts, i):
            i += 1
            continue
        accepted, used = _answer(parts[i + 1 :], parts[: i + 1])
        if not accepted and _seller_took_it(unit, parts[i + 1 :]):
            accepted = True
        offer = Offer(product=_product(unit.norm), quote=unit.raw[:300], accepted=accepted)
        relevant = bool(_RELEVANT.search(unit.norm))
        benefit = bool(_BENEFIT.search(" ".join(p.norm for p in parts[i : i + 2])))
        found.append(_Found(offer, i, relevant, benefit))
        i += 1 + used
    return found


def _is_staff_talk(parts: list[_Unit], turns: list[Turn] | None) -> bool:
    staff = sum(bool(_STAFF.search(u.norm)) for u in parts)
    sales = sum(bool(_SALES.search(u.norm)) for u in parts)
    if turns is not None and not any(t.role == "customer" for t in turns):
        # no customer voice: staff talk, unless it sounds like a sale and not like staff
        # (a far customer's voice can be taken for the seller's: roles alone do not decide)
        return staff > 0 or sales == 0
    return staff > 0 and sales == 0


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


def analyze(text: str, turns: list[Turn] | None = None) -> Analysis:
    """Analyse a transcript (with speaker turns when known); deterministic, no network."""
    parts = units(text, turns)
    staff = _is_staff_talk(parts, turns)
    found = [] if staff else _offers(parts)
    is_sales = not staff
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
