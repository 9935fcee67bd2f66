"""Promo codes (``/v1/promo-codes``): a platform's codes, percent off or an
amount off, and their redemptions. A redemption is one row per (subject, code)
— the subject is what the discount applies to, an instalment for instance —
``reserved`` when a payment starts, then ``confirmed`` or ``freed`` with its
outcome. The code's maximums (in total and per party) hold exactly under
concurrency: a reservation takes the code's row lock before it counts."""
