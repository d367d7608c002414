from typing import Literal

AddInstrumentalRequestVocalGender = Literal["f", "m"]

ADD_INSTRUMENTAL_REQUEST_VOCAL_GENDER_VALUES: set[AddInstrumentalRequestVocalGender] = {
    "f",
    "m",
}


def check_add_instrumental_request_vocal_gender(
    value: str,
) -> AddInstrumentalRequestVocalGender:
    if value in ADD_INSTRUMENTAL_REQUEST_VOCAL_GENDER_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {ADD_INSTRUMENTAL_REQUEST_VOCAL_GENDER_VALUES!r}"
    )
