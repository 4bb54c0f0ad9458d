import os

from helpers.extension import Extension


class MaskSecrets(Extension):
    async def execute(self, call_data=None, **kwargs):
        secret = os.environ.get("FAKE_A0_SECRET")
        if not self.agent or not secret:
            return
        call_data["system"] = call_data["system"].replace(secret, "***")
        call_data["message"] = call_data["message"].replace(secret, "***")
