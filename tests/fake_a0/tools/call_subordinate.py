from agent import Agent, UserMessage
from helpers.tool import Response, Tool
from initialize import initialize_agent


class Delegation(Tool):
    async def execute(self, message="", reset="", **kwargs):
        sub = self.agent.get_data(Agent.DATA_NAME_SUBORDINATE)
        if sub is None or str(reset).lower().strip() == "true":
            sub = Agent(self.agent.number + 1, initialize_agent(), self.agent.context)
            sub.set_data(Agent.DATA_NAME_SUPERIOR, self.agent)
            self.agent.set_data(Agent.DATA_NAME_SUBORDINATE, sub)
        sub.hist_add_user_message(UserMessage(message=message))
        result = await sub.monologue()
        return Response(message=result or "", break_loop=False)
