"""The mail when a task has failed for good (after its retries), through the smtp provider's
notifier and the connection smtp_default (e.g. AIRFLOW_CONN_SMTP_DEFAULT)."""

from __future__ import annotations

from airflow.providers.smtp.notifications.smtp import SmtpNotifier

ALERT_SUBJECT = "[sensor-lstm] {{ ti.dag_id }}.{{ ti.task_id }} failed (run {{ ti.run_id }}, try {{ ti.try_number }})"
ALERT_BODY = (
    "<p>Task <b>{{ ti.task_id }}</b> of {{ ti.dag_id }} failed for good in run {{ ti.run_id }} "
    "(try {{ ti.try_number }}): {{ exception }}</p><p>Log: {{ ti.log_url }}</p>"
)


def failure_alert(recipients: list[str], sender: str) -> SmtpNotifier | None:
    """The notifier for ``on_failure_callback``; None (no mail) without recipients."""
    if not recipients:
        return None
    return SmtpNotifier(
        to=recipients,
        from_email=sender,
        smtp_conn_id="smtp_default",
        subject=ALERT_SUBJECT,
        html_content=ALERT_BODY,
    )
