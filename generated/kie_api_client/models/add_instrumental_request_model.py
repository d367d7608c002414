from enum import StrEnum


class AddInstrumentalRequestModel(StrEnum):
    V4_5PLUS = "V4_5PLUS"
    V5 = "V5"
    V5_5 = "V5_5"

    def __str__(self) -> str:
        return str(self.value)
