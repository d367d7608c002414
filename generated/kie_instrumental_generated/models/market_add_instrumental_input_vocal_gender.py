from typing import Literal

MarketAddInstrumentalInputVocalGender = Literal["f", "m"]

MARKET_ADD_INSTRUMENTAL_INPUT_VOCAL_GENDER_VALUES: set[
    MarketAddInstrumentalInputVocalGender
] = {
    "f",
    "m",
}


def check_market_add_instrumental_input_vocal_gender(
    value: str,
) -> MarketAddInstrumentalInputVocalGender:
    if value in MARKET_ADD_INSTRUMENTAL_INPUT_VOCAL_GENDER_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {MARKET_ADD_INSTRUMENTAL_INPUT_VOCAL_GENDER_VALUES!r}"
    )
