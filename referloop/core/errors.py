class DomainError(Exception):
    """A rule of the domain refused a request; the message is written for the person who asked.

    `field` names the input at fault (or None for the request as a whole), so a view can put the
    message next to the field and the API can return it in a 4xx body.
    """

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
