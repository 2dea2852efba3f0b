"""Logs never carry a phone number, email address, survey token or API key in clear."""

import logging

from survey_service.logs import RedactingFilter, redact


def test_redact_masks_personal_data_and_secrets():
    line = ("sent to +8613800138000 and li.wei@example.com link "
            "https://x/s/AbCdEfGhIjKlMnOpQrStUvWxYz012345 key sk_abcdefghijklmnop")
    clean = redact(line)
    for secret in ("8613800138000", "li.wei@example.com", "AbCdEfGhIjKlMnOpQrStUvWxYz012345",
                   "sk_abcdefghijklmnop"):
        assert secret not in clean
    assert "/s/***" in clean


def test_filter_rewrites_formatted_records(caplog):
    logger = logging.getLogger("survey_service.test")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="survey_service.test"):
        logger.info("reply from %s", "+14155550100")
    assert "+14155550100" not in caplog.text
    assert "+***" in caplog.text
