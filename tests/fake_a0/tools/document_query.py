from helpers.tool import Response, Tool
from langchain_core.messages import HumanMessage, SystemMessage


class DocumentQueryTool(Tool):
    async def execute(self, document="", query="", **kwargs):
        digest = await self.agent.call_utility_model(
            system=self.agent.read_prompt("fw.document_query.sys.md"),
            message=f"{document}\n\nQuestion: {query}",
        )
        answer, _ = await self.agent.call_chat_model(
            messages=[
                SystemMessage("Answer from the digest."),
                HumanMessage(f"{digest}\n\n{query}"),
            ],
            explicit_caching=False,
        )
        return Response(message=answer, break_loop=False)
