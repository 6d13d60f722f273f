"""Varied English and French captions for a scene, with French agreement done right.

Every caption names the colour, the shape and the motion; size, background and effect appear in some
templates and not others (a caption that leaves one out says nothing about it). ``caption_with_attributes``
also returns what the caption states, which is exactly what ``parse_prompt`` must recover from it.
"""

from __future__ import annotations

import numpy as np

from models.kinora_dit.prompt_parser import parse_prompt
from models.kinora_dit.scenes import Scene

__all__ = ["LANGUAGES", "caption", "caption_with_attributes", "parse_prompt"]

LANGUAGES = ("en", "fr")
SIZE_MENTION, BACKGROUND_MENTION, EFFECT_MENTION = 0.6, 0.75, 0.85  # chance a template slot is filled

EN_SHAPE = {"ball": "ball", "square": "square", "triangle": "triangle", "star": "star", "car": "car", "sun": "sun"}
EN_SIZE = {"small": ("small", "little", "tiny"), "medium": ("medium-sized", "medium", "mid-sized"),
           "large": ("large", "big", "huge")}
EN_MOTION: dict[str, tuple[tuple[str, str], ...]] = {  # (-ing form, third person)
    "left": (("moving to the left", "moves to the left"), ("sliding left", "slides left"),
             ("drifting to the left", "drifts to the left"), ("travelling leftward", "travels leftward")),
    "right": (("moving to the right", "moves to the right"), ("sliding right", "slides right"),
              ("drifting to the right", "drifts to the right"), ("travelling rightward", "travels rightward")),
    "up": (("moving up", "moves up"), ("rising", "rises"), ("floating upward", "floats upward"),
           ("climbing", "climbs")),
    "down": (("moving down", "moves down"), ("sinking", "sinks"), ("descending", "descends"),
             ("sliding downward", "slides downward")),
    "fall": (("falling", "falls"), ("dropping", "drops"), ("falling from the top", "falls from the top"),
             ("plummeting", "plummets")),
    "bounce": (("bouncing", "bounces"), ("bouncing up and down", "bounces up and down"),
               ("hopping up and down", "hops up and down")),
    "rotate": (("rotating", "rotates"), ("spinning", "spins"), ("turning around", "turns around"),
               ("spinning in place", "spins in place")),
    "grow": (("growing", "grows"), ("getting bigger", "gets bigger"), ("expanding", "expands"),
             ("growing larger", "grows larger")),
}
EN_BACKGROUND = {"black": ("black",), "white": ("white",), "gray": ("gray", "grey"),
                 "blue": ("blue", "dark blue", "navy blue"), "green": ("green", "dark green"), "brown": ("brown",)}
EN_BACKDROP = ("on a {} background", "against a {} backdrop", "over a {} background", "in front of a {} background")
EN_SKY = {"day sky": ("across a daytime sky", "in a clear day sky", "in a bright blue sky", "against a daytime sky"),
          "night sky": ("across a night sky", "in a starry night sky", "against a night sky full of stars",
                        "in the starry sky")}
EN_EFFECT = {"rain": ("in the rain", "while it rains", "under heavy rain", "with rain pouring"),
             "snow": ("in the snow", "while it snows", "under falling snow", "as snow falls"),
             "blink": ("while blinking", ", blinking on and off", ", flashing on and off")}
EN_TEMPLATES = (  # {np}: noun phrase with "a/an"; {bare}: without; {ing}/{verb}: motion; {bg}/{fx}: optional
    "{np} {ing}{bg}{fx}", "{np} {verb}{bg}{fx}", "{bare} {ing}", "video of {np} that {verb}{bg}{fx}",
    "{BG}, {np} {verb}{fx}", "a clip showing {np} {ing}{fx}", "animation of {np} {ing}{bg}",
    "the {bare} {verb}{bg}{fx}", "{np} {verb}", "{np}, {ing}{bg}{fx}",
)

# French: (noun, feminine?) and colours as (masculine, feminine).
FR_SHAPE = {"ball": ("balle", True), "square": ("carré", False), "triangle": ("triangle", False),
            "star": ("étoile", True), "car": ("voiture", True), "sun": ("soleil", False)}
FR_COLOR = {"red": ("rouge", "rouge"), "green": ("vert", "verte"), "blue": ("bleu", "bleue"),
            "yellow": ("jaune", "jaune"), "orange": ("orange", "orange"), "purple": ("violet", "violette"),
            "white": ("blanc", "blanche"), "pink": ("rose", "rose")}
FR_SIZE_BEFORE = {"small": (("petit", "petite"),), "large": (("grand", "grande"), ("gros", "grosse"))}
FR_MEDIUM = "de taille moyenne"  # after the noun and its colour
FR_MOTION: dict[str, tuple[str, ...]] = {  # third person; "qui " + it makes the relative clause
    "left": ("se déplace vers la gauche", "glisse vers la gauche", "va vers la gauche", "file vers la gauche"),
    "right": ("se déplace vers la droite", "glisse vers la droite", "va vers la droite", "file vers la droite"),
    "up": ("monte", "s'élève", "se déplace vers le haut", "grimpe"),
    "down": ("descend", "se déplace vers le bas", "glisse vers le bas"),
    "fall": ("tombe", "chute", "tombe de haut en bas"),
    "bounce": ("rebondit", "rebondit de haut en bas", "fait des bonds"),
    "rotate": ("tourne sur {self}", "pivote", "tournoie"),
    "grow": ("grandit", "grossit", "s'agrandit"),
}
FR_BACKGROUND = {"black": ("noir",), "white": ("blanc",), "gray": ("gris",), "blue": ("bleu", "bleu foncé"),
                 "green": ("vert", "vert foncé"), "brown": ("marron", "brun")}
FR_BACKDROP = ("sur fond {}", "sur un fond {}", "devant un fond {}")
FR_SKY = {"day sky": ("dans un ciel de jour", "dans un ciel bleu", "dans un ciel clair", "sur fond de ciel de jour"),
          "night sky": ("dans un ciel de nuit", "dans un ciel étoilé", "dans un ciel nocturne plein d'étoiles",
                        "dans la nuit étoilée")}
FR_EFFECT = {"rain": ("sous la pluie", "pendant qu'il pleut", "sous une pluie battante", "alors que la pluie tombe"),
             "snow": ("sous la neige", "pendant qu'il neige", "sous des flocons de neige", "alors que la neige tombe"),
             "blink": ("en clignotant", ", en clignotant", "tout en clignotant")}
FR_TEMPLATES = (  # {np}: "un/une ..."; {the}: "le/la/l' ..."; {rel}: "qui ..."; {verb}: finite
    "{np} {rel}{bg}{fx}", "{np} {verb}{bg}{fx}", "{bare} {rel}", "vidéo d'{np} {rel}{bg}{fx}",
    "{BG}, {np} {verb}{fx}", "une animation montrant {np} {rel}{fx}", "{the} {verb}{bg}{fx}",
    "{np} {rel}", "{np}, {bg_only}{fx}, {verb}", "on voit {np} {rel}{bg}",
)


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[rng.integers(len(options))]


def _background_phrase(scene: Scene, rng: np.random.Generator, language: str) -> str:
    if language == "en":
        if scene.background in EN_SKY:
            return _pick(rng, EN_SKY[scene.background])
        return _pick(rng, EN_BACKDROP).format(_pick(rng, EN_BACKGROUND[scene.background]))
    if scene.background in FR_SKY:
        return _pick(rng, FR_SKY[scene.background])
    return _pick(rng, FR_BACKDROP).format(_pick(rng, FR_BACKGROUND[scene.background]))


def _join_effect(phrase: str) -> str:
    return phrase if phrase.startswith(",") else " " + phrase


def _english(scene: Scene, rng: np.random.Generator, template: str, with_size: bool) -> str:
    words = ([_pick(rng, EN_SIZE[scene.size])] if with_size else []) + [scene.color, EN_SHAPE[scene.shape]]
    bare = " ".join(words)
    article = "an" if bare[0] in "aeiou" else "a"
    ing, verb = EN_MOTION[scene.motion][rng.integers(len(EN_MOTION[scene.motion]))]
    return template.format(np=f"{article} {bare}", bare=bare, ing=ing, verb=verb, bg="{bg}", BG="{BG}",
                           fx="{fx}")


def _french(scene: Scene, rng: np.random.Generator, template: str, with_size: bool) -> str:
    noun, feminine = FR_SHAPE[scene.shape]
    words = [noun, FR_COLOR[scene.color][feminine]]
    if with_size and scene.size == "medium":
        words.append(FR_MEDIUM)
    elif with_size:
        options = FR_SIZE_BEFORE[scene.size]
        words.insert(0, options[rng.integers(len(options))][feminine])
    bare = " ".join(words)
    definite = "l'" if bare[0] in "aeiouéèh" else ("la " if feminine else "le ")
    verb = _pick(rng, FR_MOTION[scene.motion]).format(self="elle-même" if feminine else "lui-même")
    np_ = ("une " if feminine else "un ") + bare
    return template.format(np=np_, bare=bare, the=definite + bare, rel="qui " + verb, verb=verb, bg="{bg}",
                           BG="{BG}", bg_only="{bg_only}", fx="{fx}")


def caption_with_attributes(scene: Scene, rng: np.random.Generator, language: str = "en") -> tuple[str, dict]:
    """A caption for ``scene`` and the attributes it states (colour, shape and motion always; others maybe)."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    templates = EN_TEMPLATES if language == "en" else FR_TEMPLATES
    template = _pick(rng, templates)
    with_size = bool(rng.random() < SIZE_MENTION)
    text = (_english if language == "en" else _french)(scene, rng, template, with_size)
    stated = {"color": scene.color, "shape": scene.shape, "motion": scene.motion}
    if with_size:
        stated["size"] = scene.size
    background = _background_phrase(scene, rng, language)
    has_slot = any(slot in text for slot in ("{bg}", "{BG}", "{bg_only}"))
    with_background = "{BG}" in text or "{bg_only}" in text or (has_slot and rng.random() < BACKGROUND_MENTION)
    if with_background:
        stated["background"] = scene.background
    text = text.replace("{BG}", background[0].upper() + background[1:]).replace("{bg_only}", background)
    text = text.replace("{bg}", " " + background if with_background else "")
    effects = EN_EFFECT if language == "en" else FR_EFFECT
    with_effect = "{fx}" in text and scene.effect != "none" and rng.random() < EFFECT_MENTION
    if with_effect:
        stated["effect"] = scene.effect
    text = text.replace("{fx}", _join_effect(_pick(rng, effects[scene.effect])) if with_effect else "")
    return text, stated


def caption(scene: Scene, rng: np.random.Generator, language: str = "en") -> str:
    """One caption for ``scene`` in ``language`` ("en" or "fr"), template and wording drawn from ``rng``."""
    return caption_with_attributes(scene, rng, language)[0]
