from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="CallbackTrack")


@_attrs_define
class CallbackTrack:
    """A generated track as the callback reports it (snake_case, createTime camelCase). No field is required (captured
    callbacks carried tracks without `id`).

        Attributes:
            id (str | Unset):
            audio_url (None | str | Unset):
            stream_audio_url (None | str | Unset):
            image_url (None | str | Unset):
            source_audio_url (None | str | Unset):
            source_stream_audio_url (None | str | Unset):
            source_image_url (None | str | Unset):
            prompt (None | str | Unset):
            model_name (None | str | Unset):
            title (None | str | Unset):
            tags (None | str | Unset):
            create_time (float | None | str | Unset): Documented as a string ("2025-01-01 00:00:00", read as UTC); epoch
                milliseconds in every real capture (tracks and the task record).
            duration (float | None | Unset): Seconds; null while the track is unfinished.
    """

    id: str | Unset = UNSET
    audio_url: None | str | Unset = UNSET
    stream_audio_url: None | str | Unset = UNSET
    image_url: None | str | Unset = UNSET
    source_audio_url: None | str | Unset = UNSET
    source_stream_audio_url: None | str | Unset = UNSET
    source_image_url: None | str | Unset = UNSET
    prompt: None | str | Unset = UNSET
    model_name: None | str | Unset = UNSET
    title: None | str | Unset = UNSET
    tags: None | str | Unset = UNSET
    create_time: float | None | str | Unset = UNSET
    duration: float | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        audio_url: None | str | Unset
        if isinstance(self.audio_url, Unset):
            audio_url = UNSET
        else:
            audio_url = self.audio_url

        stream_audio_url: None | str | Unset
        if isinstance(self.stream_audio_url, Unset):
            stream_audio_url = UNSET
        else:
            stream_audio_url = self.stream_audio_url

        image_url: None | str | Unset
        if isinstance(self.image_url, Unset):
            image_url = UNSET
        else:
            image_url = self.image_url

        source_audio_url: None | str | Unset
        if isinstance(self.source_audio_url, Unset):
            source_audio_url = UNSET
        else:
            source_audio_url = self.source_audio_url

        source_stream_audio_url: None | str | Unset
        if isinstance(self.source_stream_audio_url, Unset):
            source_stream_audio_url = UNSET
        else:
            source_stream_audio_url = self.source_stream_audio_url

        source_image_url: None | str | Unset
        if isinstance(self.source_image_url, Unset):
            source_image_url = UNSET
        else:
            source_image_url = self.source_image_url

        prompt: None | str | Unset
        if isinstance(self.prompt, Unset):
            prompt = UNSET
        else:
            prompt = self.prompt

        model_name: None | str | Unset
        if isinstance(self.model_name, Unset):
            model_name = UNSET
        else:
            model_name = self.model_name

        title: None | str | Unset
        if isinstance(self.title, Unset):
            title = UNSET
        else:
            title = self.title

        tags: None | str | Unset
        if isinstance(self.tags, Unset):
            tags = UNSET
        else:
            tags = self.tags

        create_time: float | None | str | Unset
        if isinstance(self.create_time, Unset):
            create_time = UNSET
        else:
            create_time = self.create_time

        duration: float | None | Unset
        if isinstance(self.duration, Unset):
            duration = UNSET
        else:
            duration = self.duration

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if audio_url is not UNSET:
            field_dict["audio_url"] = audio_url
        if stream_audio_url is not UNSET:
            field_dict["stream_audio_url"] = stream_audio_url
        if image_url is not UNSET:
            field_dict["image_url"] = image_url
        if source_audio_url is not UNSET:
            field_dict["source_audio_url"] = source_audio_url
        if source_stream_audio_url is not UNSET:
            field_dict["source_stream_audio_url"] = source_stream_audio_url
        if source_image_url is not UNSET:
            field_dict["source_image_url"] = source_image_url
        if prompt is not UNSET:
            field_dict["prompt"] = prompt
        if model_name is not UNSET:
            field_dict["model_name"] = model_name
        if title is not UNSET:
            field_dict["title"] = title
        if tags is not UNSET:
            field_dict["tags"] = tags
        if create_time is not UNSET:
            field_dict["createTime"] = create_time
        if duration is not UNSET:
            field_dict["duration"] = duration

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id", UNSET)

        def _parse_audio_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        audio_url = _parse_audio_url(d.pop("audio_url", UNSET))

        def _parse_stream_audio_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        stream_audio_url = _parse_stream_audio_url(d.pop("stream_audio_url", UNSET))

        def _parse_image_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        image_url = _parse_image_url(d.pop("image_url", UNSET))

        def _parse_source_audio_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        source_audio_url = _parse_source_audio_url(d.pop("source_audio_url", UNSET))

        def _parse_source_stream_audio_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        source_stream_audio_url = _parse_source_stream_audio_url(
            d.pop("source_stream_audio_url", UNSET)
        )

        def _parse_source_image_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        source_image_url = _parse_source_image_url(d.pop("source_image_url", UNSET))

        def _parse_prompt(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        prompt = _parse_prompt(d.pop("prompt", UNSET))

        def _parse_model_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        model_name = _parse_model_name(d.pop("model_name", UNSET))

        def _parse_title(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        title = _parse_title(d.pop("title", UNSET))

        def _parse_tags(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tags = _parse_tags(d.pop("tags", UNSET))

        def _parse_create_time(data: object) -> float | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | str | Unset, data)

        create_time = _parse_create_time(d.pop("createTime", UNSET))

        def _parse_duration(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        duration = _parse_duration(d.pop("duration", UNSET))

        callback_track = cls(
            id=id,
            audio_url=audio_url,
            stream_audio_url=stream_audio_url,
            image_url=image_url,
            source_audio_url=source_audio_url,
            source_stream_audio_url=source_stream_audio_url,
            source_image_url=source_image_url,
            prompt=prompt,
            model_name=model_name,
            title=title,
            tags=tags,
            create_time=create_time,
            duration=duration,
        )

        callback_track.additional_properties = d
        return callback_track

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
