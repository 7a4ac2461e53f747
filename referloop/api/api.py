"""The HTTP API at /api/v1/: assembled here from each app's router, token-authenticated."""

from ninja import NinjaAPI
from ninja.security import HttpBearer

from referloop.clients.api import router as clients_router
from referloop.core.api import router as core_router
from referloop.core.errors import DomainError
from referloop.core.selectors import api_token_authenticate
from referloop.core.services import api_token_touch
from referloop.directory.api import router as directory_router
from referloop.intake.api import router as intake_router
from referloop.partners.api import router as partners_router
from referloop.referrals.api import router as referrals_router
from referloop.reports.api import router as reports_router
from referloop.stays.api import router as stays_router
from referloop.worklist.api import router as worklist_router


class TokenAuth(HttpBearer):
    """`Authorization: Bearer rl_…`: the token acts as its user in its agency."""

    openapi_scheme = "bearer"

    def authenticate(self, request, token):
        api_token = api_token_authenticate(token)
        if api_token is None:
            return None
        request.user = api_token.user
        request.agency = api_token.agency
        request.membership = api_token.membership
        api_token_touch(token=api_token)
        return api_token


api = NinjaAPI(
    title="Referloop API",
    version="1",
    description="Closed-loop referrals between human-service organizations. Authenticate with "
    "`Authorization: Bearer <token>`; create a token with `referloop token create --user EMAIL`.",
    urls_namespace="api",
    auth=TokenAuth(),
)


# Domain error codes that are not the caller's bad input: a stale version or an already-made
# change ("conflict"), a consent that does not cover the disclosure ("consent"), a possible
# duplicate record ("duplicate"), and a move that is the other side's to make ("forbidden").
DOMAIN_ERROR_STATUS = {"conflict": 409, "consent": 409, "duplicate": 409, "forbidden": 403}


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    return api.create_response(
        request,
        {"detail": exc.message, "field": exc.field, "code": exc.code},
        status=DOMAIN_ERROR_STATUS.get(exc.code, 400),
    )


api.add_router("/", core_router)
api.add_router("/worklist", worklist_router)
api.add_router("/directory", directory_router)
api.add_router("/", clients_router)
api.add_router("/partners", partners_router)
api.add_router("/stays", stays_router)
api.add_router("/intake", intake_router)
api.add_router("/reports", reports_router)
api.add_router("/", referrals_router)
