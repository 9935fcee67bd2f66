"""Proof of delivery: photos that show a milestone was delivered where and when it should have been."""
