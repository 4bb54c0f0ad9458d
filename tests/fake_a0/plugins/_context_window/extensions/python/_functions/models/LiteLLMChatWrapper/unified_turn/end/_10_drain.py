from helpers import host_version
from helpers.extension import Extension


class DrainEnd(Extension):
    """Later v2: the turn's response is the accepted tool JSON, not the whole stream."""

    async def execute(self, data=None, **kwargs):
        if not host_version.USAGE_DRAIN or data is None:
            return
        accepted = getattr(data["kwargs"].get("response_callback"), "accepted", None)
        result = data.get("result")
        if accepted and hasattr(result, "response"):
            result.response = accepted[0]
