"""The console's languages: Vietnamese by default, English on request.

Messages live in ``locales/<language>.json`` as flat ``key -> text`` catalogues with ``{name}``
placeholders. A domain error is shown by its stable code (``error.<CODE>``), so the words an official
reads never depend on the English message a service wrote; a code without a translation falls back
to that English message. The language is chosen by ``?lang=`` (and remembered in the
``popreg_lang`` cookie), else the cookie, else the ``default_language`` setting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from starlette.requests import Request

from popreg.kit.errors import DomainError

LANGUAGES = ("vi", "en")
FALLBACK_LANGUAGE = "en"
LANGUAGE_COOKIE = "popreg_lang"
LANGUAGE_PARAMETER = "lang"


@cache
def catalogue(language: str) -> dict[str, str]:
    """The messages of one language, read once per process."""
    text = files("popreg.web").joinpath("locales", f"{language}.json").read_text(encoding="utf-8")
    messages: dict[str, str] = json.loads(text)
    return messages


@dataclass(frozen=True, slots=True)
class Translator:
    """Messages of one language; called as ``t("key", name=value)`` in code and templates."""

    language: str

    def __call__(self, key: str, **values: Any) -> str:
        text = self.lookup(key)
        if text is None:
            return key
        return text.format(**values) if values else text

    def lookup(self, key: str) -> str | None:
        """The message for ``key`` in this language, else in English, else ``None``."""
        return catalogue(self.language).get(key) or catalogue(FALLBACK_LANGUAGE).get(key)

    def has(self, key: str) -> bool:
        return self.lookup(key) is not None

    def error(self, error: DomainError) -> str:
        """What to tell an official about a refusal: the message of its code, else the service's own."""
        return self.error_code(error.code, fallback=error.message)

    def error_code(self, code: str, *, fallback: str) -> str:
        return catalogue(self.language).get(f"error.{code}") or fallback

    def label(self, field: str) -> str:
        """The label of a form or register field (``field.<name>``), the raw name if none is known."""
        return self.lookup(f"field.{field}") or field


def choose_language(request: Request, *, default: str) -> tuple[str, bool]:
    """The language of a request, and whether it was chosen just now (so it should be remembered)."""
    asked = request.query_params.get(LANGUAGE_PARAMETER)
    if asked in LANGUAGES:
        return asked, True
    remembered = request.cookies.get(LANGUAGE_COOKIE)
    if remembered in LANGUAGES:
        return remembered, False
    return (default if default in LANGUAGES else LANGUAGES[0]), False


def translator_for(request: Request) -> Translator:
    """The translator of the request's language."""
    default = getattr(request.app.state.settings, "default_language", LANGUAGES[0])
    return Translator(choose_language(request, default=default)[0])
