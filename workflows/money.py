"""Money in requests: yuan as a decimal string with at most two places ("6000.00").

A JSON number is refused: a float cannot say 0.10 exactly, and a client that sends one has
already rounded. Stored and answered as decimal strings too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field


def decimal_text(value: Any) -> Any:
    if isinstance(value, str | Decimal):
        return value
    raise ValueError('money is a decimal string such as "6000.00", not a JSON number')


Text = BeforeValidator(decimal_text)
Yuan = Annotated[Decimal, Text, Field(ge=0, le=Decimal("99999999.99"), decimal_places=2)]
"""An income, spending or line in yuan."""
Payment = Annotated[Decimal, Text, Field(gt=0, le=Decimal("1000000.00"), decimal_places=2)]
"""A payment from the fund."""
Budget = Annotated[Decimal, Text, Field(ge=0, le=Decimal("9999999999.99"), decimal_places=2)]
"""A year's budget or line in a policy version."""
