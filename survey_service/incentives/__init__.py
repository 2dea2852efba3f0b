"""Incentive rules, codes and redemption."""
