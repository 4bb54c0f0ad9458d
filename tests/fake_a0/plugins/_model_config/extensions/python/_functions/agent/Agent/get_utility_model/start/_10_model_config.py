from helpers.extension import Extension
from plugins._model_config.helpers.model_config import build_utility_model


class ModelConfig(Extension):
    def execute(self, data=None, **kwargs):
        if not self.agent:
            return
        data["result"] = build_utility_model(self.agent)
