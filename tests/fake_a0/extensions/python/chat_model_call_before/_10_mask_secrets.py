import os

from helpers.extension import Extension


class MaskChatSecrets(Extension):
    async def execute(self, call_data=None, **kwargs):
        secret = os.environ.get("FAKE_A0_SECRET")
        if not self.agent or not secret:
            return
        masked = []
        for message in call_data["messages"]:
            copy = type(message)(str(message.content).replace(secret, "***"))
            masked.append(copy)
        call_data["messages"] = masked
