"""Feedback both ways: what sales and customers say about leads and the product, computed and checked."""

from smarketing.feedback.customer import FeedbackReport, customer_feedback

__all__ = ["FeedbackReport", "customer_feedback"]
