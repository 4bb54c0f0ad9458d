from helpers.extension import Extension
from plugins._model_config.helpers.model_config import build_chat_model


class ModelConfig(Extension):
    def execute(self, data=None, **kwargs):
        if not self.agent:
            return
        data["result"] = build_chat_model(self.agent)
