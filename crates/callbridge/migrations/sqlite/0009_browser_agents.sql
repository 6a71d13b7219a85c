-- Browser agents. Keep in step with ../postgres/0009_browser_agents.sql.

-- Where an agent talks from unless a request says otherwise: 'phone' or 'browser'.
ALTER TABLE agents ADD COLUMN default_mode TEXT NOT NULL DEFAULT 'phone';

-- How the call reached the agent. In 'browser' mode agent_number holds the agent's client
-- ('client:agent_…') and the agent's leg is the browser's own call to us.
ALTER TABLE calls ADD COLUMN mode TEXT NOT NULL DEFAULT 'phone';
