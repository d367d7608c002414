from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.add_instrumental_request_vocal_gender import (
    AddInstrumentalRequestVocalGender,
    check_add_instrumental_request_vocal_gender,
)
from ..models.suno_model import SunoModel, check_suno_model
from ..types import UNSET, Unset

T = TypeVar("T", bound="AddInstrumentalRequest")


@_attrs_define
class AddInstrumentalRequest:
    """
    Attributes:
        upload_url (str): Public http(s) URL of the source audio (usually a vocal stem); KIE must be able to fetch it.
        title (str): Title of the generated music. Not capped by KIE's docs; 100 is what other clients use.
        tags (str): Styles to include, comma separated.
        negative_tags (str): Styles to exclude, comma separated. Required, may be empty.
        call_back_url (str): Where KIE POSTs the stage callbacks. KIE checks presence, not reachability.
        model (SunoModel | Unset): Suno model version, the same list on both routes. As of 2026-09-25 KIE's pages (the
            per-endpoint one and the Market one) list V6, V6_MINI and V6_WILD as current and
            V4_5PLUS, V5 and V5_5 as "Discontinued" (`x-discontinued`, read by the client, which
            still sends them but warns). KIE's per-endpoint page documented V4_5PLUS as its default
            in April 2026, a model it now calls discontinued; decision: the default is V6 and the
            client sends it explicitly when no model is given, so no request depends on KIE's
            server-side default.
        vocal_gender (AddInstrumentalRequestVocalGender | Unset): Preferred vocal gender; a nudge, not a guarantee.
        style_weight (float | Unset): Adherence to the style, 0 to 1 with at most 2 decimals.
        weirdness_constraint (float | Unset): Creative deviation, 0 to 1 with at most 2 decimals.
        audio_weight (float | Unset): Weight of the input audio, 0 to 1 with at most 2 decimals.
    """

    upload_url: str
    title: str
    tags: str
    negative_tags: str
    call_back_url: str
    model: SunoModel | Unset = UNSET
    vocal_gender: AddInstrumentalRequestVocalGender | Unset = UNSET
    style_weight: float | Unset = UNSET
    weirdness_constraint: float | Unset = UNSET
    audio_weight: float | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        upload_url = self.upload_url

        title = self.title

        tags = self.tags

        negative_tags = self.negative_tags

        call_back_url = self.call_back_url

        model: str | Unset = UNSET
        if not isinstance(self.model, Unset):
            model = self.model

        vocal_gender: str | Unset = UNSET
        if not isinstance(self.vocal_gender, Unset):
            vocal_gender = self.vocal_gender

        style_weight = self.style_weight

        weirdness_constraint = self.weirdness_constraint

        audio_weight = self.audio_weight

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "uploadUrl": upload_url,
                "title": title,
                "tags": tags,
                "negativeTags": negative_tags,
                "callBackUrl": call_back_url,
            }
        )
        if model is not UNSET:
            field_dict["model"] = model
        if vocal_gender is not UNSET:
            field_dict["vocalGender"] = vocal_gender
        if style_weight is not UNSET:
            field_dict["styleWeight"] = style_weight
        if weirdness_constraint is not UNSET:
            field_dict["weirdnessConstraint"] = weirdness_constraint
        if audio_weight is not UNSET:
            field_dict["audioWeight"] = audio_weight

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        upload_url = d.pop("uploadUrl")

        title = d.pop("title")

        tags = d.pop("tags")

        negative_tags = d.pop("negativeTags")

        call_back_url = d.pop("callBackUrl")

        _model = d.pop("model", UNSET)
        model: SunoModel | Unset
        if isinstance(_model, Unset):
            model = UNSET
        else:
            model = check_suno_model(_model)

        _vocal_gender = d.pop("vocalGender", UNSET)
        vocal_gender: AddInstrumentalRequestVocalGender | Unset
        if isinstance(_vocal_gender, Unset):
            vocal_gender = UNSET
        else:
            vocal_gender = check_add_instrumental_request_vocal_gender(_vocal_gender)

        style_weight = d.pop("styleWeight", UNSET)

        weirdness_constraint = d.pop("weirdnessConstraint", UNSET)

        audio_weight = d.pop("audioWeight", UNSET)

        add_instrumental_request = cls(
            upload_url=upload_url,
            title=title,
            tags=tags,
            negative_tags=negative_tags,
            call_back_url=call_back_url,
            model=model,
            vocal_gender=vocal_gender,
            style_weight=style_weight,
            weirdness_constraint=weirdness_constraint,
            audio_weight=audio_weight,
        )

        return add_instrumental_request
