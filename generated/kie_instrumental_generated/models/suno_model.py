from typing import Literal

SunoModel = Literal["V4_5PLUS", "V5", "V5_5", "V6", "V6_MINI", "V6_WILD"]

SUNO_MODEL_VALUES: set[SunoModel] = {
    "V4_5PLUS",
    "V5",
    "V5_5",
    "V6",
    "V6_MINI",
    "V6_WILD",
}


def check_suno_model(value: str) -> SunoModel:
    if value in SUNO_MODEL_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {SUNO_MODEL_VALUES!r}"
    )
