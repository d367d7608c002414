"""The parameters of add_instrumental as types: the model and vocal gender are the Literal
aliases generated from the spec's enums (a regeneration updates them; SunoModel is shared by
both routes, whose vocal genders are the same), and AddInstrumentalParams lets a service build
the keyword arguments as a checked dict:

    params: AddInstrumentalParams = {"upload_url": url, "title": "Night Drive", ...}
    client.add_instrumental(**params)

The generated aliases are imported for type checkers only: importing the generated models at
run time costs as much as the rest of the package, and nothing needs them before a request.
"""

# No `from __future__ import annotations`: TypedDict reads required and optional keys from the
# class's totality, which string annotations would hide on Python 3.11.
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from kie_instrumental_generated.models.add_instrumental_request_vocal_gender import (
        AddInstrumentalRequestVocalGender,
    )
    from kie_instrumental_generated.models.suno_model import SunoModel

__all__ = ["AddInstrumentalParams"]


class _RequiredParams(TypedDict):
    upload_url: str
    title: str
    tags: str
    negative_tags: str


class AddInstrumentalParams(_RequiredParams, total=False):
    """The keyword arguments of `add_instrumental` (without `request_timeout` and `route`).
    `callback_url` is required on the legacy route, optional on the Market route."""

    callback_url: str | None
    model: "SunoModel | None"
    vocal_gender: "AddInstrumentalRequestVocalGender | None"
    style_weight: float | None
    weirdness_constraint: float | None
    audio_weight: float | None
