from django.conf import settings
from django.core.mail import send_mail
from django.tasks import task
from django.urls import reverse

from referloop.core.models import User


@task
def notify_account_locked(*, email: str, locked_until: str, ip: str) -> bool:
    """Tells the account holder that sign-in was locked after repeated failures (if it's theirs
    it helps them; if it isn't, they learn someone is trying). Unknown addresses get nothing."""
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        return False
    send_mail(
        subject="Referloop: sign-in locked after repeated failed attempts",
        message=(
            f"Hello {user.get_short_name()},\n\n"
            f"Sign-in to your Referloop account from the address {ip} was locked until "
            f"{locked_until} (UTC) after several wrong passwords.\n"
            "If this was you, wait and try again. "
            "If it was not, tell your agency administrator.\n\n"
            f"{settings.BASE_URL}{reverse('login')}\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    return True
