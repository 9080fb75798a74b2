// The GraphiQL playground: boots GraphiQL from the files this server hosts, and adds a
// login form that fills the Authorization header of the tab in view.
// Plain browser JavaScript, no build step: React.createElement instead of JSX.
"use strict";

(function () {
  const root = document.getElementById("graphiql");
  if (typeof window.GraphiQL === "undefined") {
    // The page says which files are missing (see graph/pages/assets.py).
    root.textContent = "";
    return;
  }
  const h = React.createElement;
  const config = JSON.parse(document.getElementById("playground-config").textContent);
  const endpoint = new URL("/graphql", window.location.href);
  const subscriptionUrl = new URL(endpoint);
  subscriptionUrl.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  // Subscriptions use graphql-transport-ws on the same URL; GraphiQL sends the headers
  // of the tab (the Authorization header included) as the connection_init payload.
  const graphiqlFetcher = GraphiQL.createFetcher({
    url: endpoint.toString(),
    subscriptionUrl: subscriptionUrl.toString(),
  });

  // GraphiQL learns a tab's operation name and type from a parse it runs a moment after
  // the editor changes, so a run right after switching tabs would send the previous tab's
  // operation name (the server answers 400) and a subscription over HTTP. Parse here.
  function fetcher(params, options) {
    try {
      const documentAST = GraphiQL.GraphQL.parse(params.query);
      const operations = documentAST.definitions.filter((d) => d.kind === "OperationDefinition");
      if (operations.length === 1) {
        const name = operations[0].name ? operations[0].name.value : undefined;
        params = Object.assign({}, params, { operationName: name });
      }
      options = Object.assign({}, options, { documentAST });
    } catch (error) {
      // A syntax error: let the server answer it, as GraphiQL would.
    }
    return graphiqlFetcher(params, options);
  }

  // ---------------------------------------------------------------- the session

  // The access token lives in this page only: it is never written to localStorage.
  const session = { email: null, token: null, expiresAt: null, listeners: new Set() };

  function setSession(values) {
    Object.assign(session, values);
    session.listeners.forEach((listener) => listener());
  }

  function headersWithToken(text, token) {
    let headers = {};
    try {
      headers = text && text.trim() ? JSON.parse(text) : {};
    } catch (error) {
      return null; // the user is typing: leave their text alone
    }
    if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
      return null;
    }
    for (const name of Object.keys(headers)) {
      if (name.toLowerCase() === "authorization") delete headers[name];
    }
    if (token) headers.Authorization = "Bearer " + token;
    return JSON.stringify(headers, null, 2);
  }

  // Rendered inside GraphiQL (in its toolbar) to reach the headers editor. It writes the
  // token into the tab in view after a login, and into every tab that comes into view
  // without one, so what the editor shows is exactly what is sent.
  function HeaderSync() {
    const editors = GraphiQL.React.useEditorContext();
    const [, redraw] = React.useReducer((n) => n + 1, 0);
    React.useEffect(() => {
      session.listeners.add(redraw);
      return () => session.listeners.delete(redraw);
    }, []);
    const editor = editors.headerEditor;
    React.useEffect(() => {
      if (!editor) return;
      const current = editor.getValue();
      const wanted = headersWithToken(current, session.token);
      if (wanted !== null && wanted !== current && (session.token || /authorization/i.test(current))) {
        editor.setValue(wanted);
      }
    }, [editor, editors.activeTabIndex, session.token]);
    return null;
  }

  // ---------------------------------------------------------------- the login form

  const form = document.getElementById("login");
  const status = document.getElementById("session");
  const logout = document.getElementById("logout");

  const LOGIN = `mutation PlaygroundLogin($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken expiresIn user { email } }
}`;
  const LOGOUT = "mutation PlaygroundLogout { logout }";

  async function post(query, variables, token) {
    const headers = { "content-type": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    const response = await fetch(endpoint, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
    });
    return response.json();
  }

  function showStatus(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function describeSession() {
    if (!session.token) {
      showStatus("Not logged in: log in to fill the Authorization header.");
      logout.hidden = true;
      return;
    }
    const minutes = Math.max(0, Math.round((session.expiresAt - Date.now()) / 60000));
    const expiry = minutes > 0 ? `token valid for ${minutes} min` : "token expired: log in again";
    showStatus(`Logged in as ${session.email} (${expiry})`);
    logout.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    showStatus("Logging in…");
    try {
      const result = await post(LOGIN, { email: data.get("email"), password: data.get("password") });
      if (result.errors) {
        const error = result.errors[0];
        const code = (error.extensions && error.extensions.code) || "ERROR";
        showStatus(`Login refused (${code}): ${error.message}`, true);
        return;
      }
      const login = result.data.login;
      form.elements.password.value = "";
      setSession({
        email: login.user.email,
        token: login.accessToken,
        expiresAt: Date.now() + login.expiresIn * 1000,
      });
      describeSession();
    } catch (error) {
      showStatus(`Login failed: ${error.message}`, true);
    }
  });

  logout.addEventListener("click", async () => {
    const token = session.token;
    setSession({ email: null, token: null, expiresAt: null });
    describeSession();
    if (token) await post(LOGOUT, {}, token).catch(() => undefined); // revoke it server-side
  });

  window.setInterval(describeSession, 30000);

  // ---------------------------------------------------------------- GraphiQL

  root.textContent = "";
  ReactDOM.createRoot(root).render(
    h(GraphiQL, {
      fetcher,
      defaultTabs: config.tabs,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
      toolbar: { additionalComponent: HeaderSync },
    }),
  );
})();
