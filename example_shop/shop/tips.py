"""Short care and usage tips per product category, in each language the shop speaks.

The adapter puts them on each item of an order snapshot as ``tips`` (in the order's
language), for the ``usage-tips`` recipe. A real shop might keep them on the category
model; here they are plain data.
"""

from __future__ import annotations

CATEGORY_TIPS: dict[str, dict[str, str]] = {
    "Backpacks": {
        "en": (
            "Before a hike, adjust the hip belt first and then the shoulder straps: most "
            "of the weight should sit on your hips. Put heavy things close to your back. "
            "Clean the backpack by hand with a sponge and lukewarm water, never in a "
            "washing machine, and dry it open, away from radiators."
        ),
        "ru": (
            "Перед походом сначала затяните поясной ремень, потом плечевые лямки: "
            "основной вес должен лежать на бёдрах. Тяжёлые вещи кладите ближе к спине. "
            "Чистите рюкзак вручную губкой и тёплой водой, не в стиральной машине, и "
            "сушите в раскрытом виде вдали от батарей."
        ),
        "uk": (
            "Перед походом спершу затягніть поясний ремінь, а потім плечові лямки: "
            "основна вага має лежати на стегнах. Важкі речі кладіть ближче до спини. "
            "Чистьте рюкзак вручну губкою й теплою водою, не в пральній машині, і "
            "сушіть у розкритому вигляді подалі від батарей."
        ),
    },
    "Tents": {
        "en": (
            "Pitch the tent once at home to learn how it goes up. After every trip, dry "
            "it completely before packing it away: a tent stored damp gets mould. Keep "
            "it loosely folded, not tightly rolled, and shake the sand out of the poles."
        ),
        "ru": (
            "Поставьте палатку один раз дома, чтобы разобраться, как она собирается. "
            "После каждого похода полностью просушите её перед тем, как убрать: во "
            "влажной палатке заводится плесень. Храните её свободно сложенной, а не "
            "туго скрученной, и вытряхивайте песок из дуг."
        ),
        "uk": (
            "Поставте намет один раз удома, щоб розібратися, як він збирається. Після "
            "кожного походу повністю висушіть його, перш ніж прибрати: у вологому "
            "наметі заводиться пліснява. Зберігайте його вільно складеним, а не туго "
            "скрученим, і витрушуйте пісок із дуг."
        ),
    },
    "Clothing": {
        "en": (
            "Wash at 30 °C on a gentle cycle with a liquid detergent, without fabric "
            "softener: it clogs membranes and makes fleece less warm. Dry membrane "
            "jackets flat, and now and then refresh the water repellency with a spray."
        ),
        "ru": (
            "Стирайте при 30 °C в деликатном режиме жидким средством, без кондиционера: "
            "он забивает мембрану, а флис от него хуже греет. Мембранные куртки сушите "
            "в расправленном виде и время от времени обновляйте водоотталкивающую "
            "пропитку спреем."
        ),
        "uk": (
            "Періть за 30 °C у делікатному режимі рідким засобом, без кондиціонера: він "
            "забиває мембрану, а фліс від нього гірше гріє. Мембранні куртки сушіть у "
            "розправленому вигляді та час від часу оновлюйте водовідштовхувальне "
            "просочення спреєм."
        ),
    },
    "Accessories": {
        "en": (
            "Rinse bottles with hot water after each use and leave them open to dry. "
            "Charge a headlamp fully before the first trip and recharge it every few "
            "months in storage. Wipe trekking poles dry after a rainy day so that the "
            "locks do not stick."
        ),
        "ru": (
            "Ополаскивайте бутылку горячей водой после каждого использования и "
            "оставляйте открытой, чтобы просохла. Перед первым походом полностью "
            "зарядите фонарь, а при хранении подзаряжайте раз в несколько месяцев. "
            "После дождя протирайте треккинговые палки насухо, чтобы не заедали замки."
        ),
        "uk": (
            "Ополіскуйте пляшку гарячою водою після кожного використання й залишайте "
            "відкритою, щоб просохла. Перед першим походом повністю зарядіть ліхтар, а "
            "під час зберігання підзаряджайте раз на кілька місяців. Після дощу "
            "витирайте трекінгові палиці насухо, щоб не заїдали замки."
        ),
    },
}


def category_tips(category: str, locale: str) -> str:
    """The tips for ``category`` in ``locale`` (else English); "" if there are none."""
    by_language = CATEGORY_TIPS.get(category)
    if not by_language:
        return ""
    return by_language.get((locale or "en").split("-")[0]) or by_language.get("en", "")
