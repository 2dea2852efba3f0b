"""Celery worker and beat for survey-service."""
