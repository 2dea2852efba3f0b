"""Customers as a whole: erasing one customer's personal data from every step."""
