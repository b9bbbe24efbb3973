"""The one distinction consumers need: retry the batch, or dead-letter the message."""


class TransientError(Exception):
    """The message is fine but something it needs is not (a broker, a database, an API that is down).

    A consumer that sees this does not dead-letter: it leaves the batch uncommitted and retries it.
    Any other exception while handling a message sends that message to the dead-letter topic.
    """
