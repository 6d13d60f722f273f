"""Recover the scene attributes a prompt states, from English or French text.

Keyword rules on an accent-free lower-case copy of the prompt. The order matters: background and effect
phrases are read and cut out first, because they hold words that would otherwise be taken for the object
("a starry sky" is no star, "blue sky" no blue object, "falling snow" no fall). Motions are tried from the
most specific ("bouncing up and down" before "up").
"""

from __future__ import annotations

import re
import unicodedata

_OBJECT_COLORS = {
    "red": r"red|rouges?", "green": r"green|verte?s?", "blue": r"blue|bleue?s?", "yellow": r"yellow|jaunes?",
    "orange": r"oranges?", "purple": r"purple|violet(?:te)?s?|pourpres?", "white": r"white|blanc(?:he)?s?",
    "pink": r"pink|roses?",
}
_BACKGROUND_COLORS = {
    "black": r"black|noire?", "white": r"white|blanc(?:he)?", "gray": r"gray|grey|grise?",
    "blue": r"(?:dark |navy )?blue|bleue?(?: fonce)?|navy", "green": r"(?:dark )?green|verte?(?: fonce)?",
    "brown": r"brown|marron|brune?",
}
_SHAPES = {
    "ball": r"balls?|spheres?|balle?s?|ballons?|boules?", "square": r"squares?|box(?:es)?|carres?",
    "triangle": r"triangles?", "star": r"stars?|etoiles?", "car": r"cars?|voitures?|autos?",
    "sun": r"suns?|soleils?",
}
_SIZES = {
    "small": r"small|little|tiny|petite?s?|minuscules?",
    "medium": r"medium(?: sized)?|mid sized|average sized|moyenne?s?",
    "large": r"large|big|huge|grande?s?|grosses?|gros|enormes?",
}
_MOTIONS = (  # most specific first
    ("bounce", r"bounc\w*|hop(?:s|ping)?|rebond\w*|bonds?"),
    ("fall", r"fall(?:s|ing)?|drop(?:s|ping)?|plummet\w*|tomb\w*|chut\w*"),
    ("grow", r"grow(?:s|ing)?|bigger|expand\w*|swell\w*|grandi\w*|grossi\w*|agrandi\w*"),
    ("rotate", r"rotat\w*|spin\w*|turn\w*|tourn\w*|pivot\w*"),
    ("left", r"left\w*|gauche"),
    ("right", r"right|rightwards?|droite"),
    ("up", r"up|upwards?|ris(?:e|es|ing)|climb\w*|monte|montent|montant|eleve\w*|haut|grimp\w*"),
    ("down", r"down|downwards?|sink\w*|descend\w*|bas"),
)
_EFFECTS = (
    ("rain", r"(?:(?:falling|pouring|heavy|light) )?rain\w*(?: (?:falls|falling|pours|pouring))?|it rains"
             r"|(?:une |la )?pluie(?: battante)?(?: qui)?(?: tomb\w*)?|il pleut|pleuvoir"),
    ("snow", r"(?:(?:falling|heavy|light) )?snow\w*(?: (?:falls|falling))?|it snows"
             r"|(?:des |les )?flocons?(?: de neige)?(?: qui)?(?: tomb\w*)?|(?:la )?neige(?: qui)?(?: tomb\w*)?"
             r"|il neige"),
    ("blink", r"blink\w*|flash\w*(?: on and off)?|flicker\w*|(?: on and off)|clignot\w*"),
)
_NIGHT_SKY = (r"(?:(?:a|the|un|le) )?(?:dark |starry )*(?:night ?time|night) sky(?: (?:full of|with) stars)?"
              r"|starry sky|starlit sky|sky at night|ciel (?:de nuit|nocturne|etoile)(?: etoile)?"
              r"(?: (?:plein|rempli) d etoiles)?|nuit etoilee")
_DAY_SKY = (r"(?:day ?time|day|daylight|clear|bright blue|bright|blue|sunny) sky|sky"
            r"|ciel(?: (?:de jour|diurne|clair|bleu|lumineux|d ete))?")
_BACKDROP = r"background|backdrop|back ground"


def normalise(text: str) -> str:
    """Lower case, accents stripped, apostrophes and hyphens as spaces, punctuation as " , ", padded."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[’'`\-_]", " ", text)
    text = re.sub(r"[,;:.!?()]", " , ", text)  # kept as a token: a phrase never runs across a comma
    text = re.sub(r"[^a-z0-9, ]", " ", text)
    return " " + re.sub(r"\s+", " ", text).strip() + " "


def _word(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z])(?:{pattern})(?![a-z])")


_BACKGROUND_RULES = [
    *(("night sky", _word(_NIGHT_SKY)),),
    *((name, _word(rf"(?:(?:plain|solid|dark|light|deep) )?(?:{colour}) (?:colou?red )?(?:{_BACKDROP})"))
      for name, colour in _BACKGROUND_COLORS.items()),
    *((name, _word(rf"(?:{_BACKDROP}) (?:is |of )?(?:{colour})")) for name, colour in _BACKGROUND_COLORS.items()),
    *((name, _word(rf"(?:fond|arriere plan)(?: uni)? (?:{colour})")) for name, colour in _BACKGROUND_COLORS.items()),
    *(("day sky", _word(_DAY_SKY)),),
]
_ANY_BACKDROP = _word(rf"(?:\w+ )?(?:{_BACKDROP})|fond(?: de)?")  # a backdrop in a colour we do not draw


def _first(table: dict[str, str], text: str) -> str | None:
    """The vocabulary value whose words appear earliest in ``text``."""
    hits = [(m.start(), name) for name, pattern in table.items() if (m := _word(pattern).search(text))]
    return min(hits)[1] if hits else None


def parse_prompt(text: str) -> dict[str, str]:
    """The attributes ``text`` states: keys among color, shape, size, motion, background, effect; absent if
    the prompt does not say. Values are from the vocabularies in ``models.kinora_dit.scenes``."""
    rest = normalise(text)
    found: dict[str, str] = {}
    for name, rule in _BACKGROUND_RULES:
        if (match := rule.search(rest)) is not None:
            found["background"] = name
            rest = rest[:match.start()] + " " + rest[match.end():]
            break
    rest = _ANY_BACKDROP.sub(" ", rest)
    for name, pattern in _EFFECTS:
        rule = _word(pattern)
        if rule.search(rest):
            found.setdefault("effect", name)
            rest = rule.sub(" ", rest)
    for name, pattern in _MOTIONS:
        if _word(pattern).search(rest):
            found["motion"] = name
            break
    for key, table in (("color", _OBJECT_COLORS), ("shape", _SHAPES), ("size", _SIZES)):
        if (value := _first(table, rest)) is not None:
            found[key] = value
    return found
