from helpers import host_version
from helpers.extension import Extension


class DrainStart(Extension):
    """Later v2: wrap response_callback so the stream is read to its end (terminal usage
    chunk, litellm's success callback); the accepted tool JSON is kept for the end hook."""

    async def execute(self, data=None, **kwargs):
        if not host_version.USAGE_DRAIN or data is None:
            return
        original = data["kwargs"].get("response_callback")
        if original is None:
            return
        accepted: list[str] = []

        async def draining(chunk, full):
            if accepted:
                return  # keep reading, show nothing more
            replaced = await original(chunk, full)
            if replaced is not None:
                accepted.append(replaced)
            return

        draining.accepted = accepted
        data["kwargs"]["response_callback"] = draining
