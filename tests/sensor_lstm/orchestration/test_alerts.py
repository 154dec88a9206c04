from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from sensor_lstm.orchestration.alerts import failure_alert


def test_failure_alerts_by_mail_are_off_unless_recipients_are_set():
    assert failure_alert([], "sensor-lstm@localhost") is None
    alert = failure_alert(["ops@example.com", "data@example.com"], "sensor-lstm@localhost")
    assert isinstance(alert, SmtpNotifier)
    assert (alert.to, alert.smtp_conn_id, alert.from_email) == (
        ["ops@example.com", "data@example.com"],
        "smtp_default",
        "sensor-lstm@localhost",
    )
