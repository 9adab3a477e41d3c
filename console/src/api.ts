// The console's only data source: the supplynet GraphQL API at /graphql (queries and mutations over
// HTTP POST, subscriptions over graphql-transport-ws). The credential (API key or JWT) lives in
// sessionStorage: it is gone when the tab closes.
import { createClient, type Client } from "graphql-ws";

const CREDENTIAL_KEY = "supplynet.credential";

export class ApiError extends Error {}

export function credential(): string | null {
  return sessionStorage.getItem(CREDENTIAL_KEY);
}

export function saveCredential(token: string): void {
  sessionStorage.setItem(CREDENTIAL_KEY, token.trim());
}

export function forgetCredential(): void {
  sessionStorage.removeItem(CREDENTIAL_KEY);
  void wsClient?.dispose();
  wsClient = null;
  wsConnected = false;
}

function graphqlUrl(): string {
  return new URL("/graphql", window.location.href).toString();
}

/** Runs a query or mutation; resolves with `data`, rejects with the server's own sentence. */
export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const token = credential();
  const response = await fetch(graphqlUrl(), {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json().catch(() => null)) as {
    data?: T;
    errors?: { message: string }[];
    detail?: string;
  } | null;
  if (!response.ok) {
    throw new ApiError(body?.detail ?? `HTTP ${response.status}`);
  }
  if (body?.errors?.length) {
    throw new ApiError(body.errors.map((e) => e.message).join("; "));
  }
  if (!body?.data) {
    throw new ApiError("empty answer");
  }
  return body.data;
}

let wsClient: Client | null = null;
/** Whether the subscription socket is open and acknowledged, and who waits for that. */
let wsConnected = false;
const connectedWaiters = new Set<() => void>();

/** A WebSocket whose `onmessage` always sees text: the API sends its JSON messages as binary frames
 * (orjson bytes), which graphql-ws would otherwise hand on as a Blob it cannot read. */
class TextFrameWebSocket extends WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    this.binaryType = "arraybuffer";
    const decoder = new TextDecoder();
    let handler: ((ev: MessageEvent) => void) | null = null;
    Object.defineProperty(this, "onmessage", {
      get: () => handler,
      set: (h: ((ev: MessageEvent) => void) | null) => {
        handler = h;
      },
    });
    this.addEventListener("message", (ev: MessageEvent) => {
      const data: unknown = ev.data instanceof ArrayBuffer ? decoder.decode(ev.data) : ev.data;
      handler?.call(this, new MessageEvent("message", { data }));
    });
  }
}

function subscriptionClient(): Client {
  if (wsClient === null) {
    const url = graphqlUrl().replace(/^http/, "ws");
    wsClient = createClient({
      url,
      lazy: true,
      webSocketImpl: TextFrameWebSocket,
      retryAttempts: 5,
      connectionParams: () => ({ authorization: `Bearer ${credential() ?? ""}` }),
    });
    wsClient.on("connected", () => {
      wsConnected = true;
      for (const waiter of [...connectedWaiters]) waiter();
    });
    wsClient.on("closed", () => {
      wsConnected = false;
    });
  }
  return wsClient;
}

/** Subscribes; returns the function that ends the subscription. `onConnected` runs when the socket is
 * (or is already) open and acknowledged by the server, and again after a reconnection. */
export function subscribe<T>(
  query: string,
  variables: Record<string, unknown>,
  onData: (data: T) => void,
  onError: (message: string) => void,
  onConnected?: () => void,
): () => void {
  const client = subscriptionClient();
  if (onConnected) {
    connectedWaiters.add(onConnected);
    if (wsConnected) queueMicrotask(onConnected);
  }
  const stop = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) onError(result.errors.map((e) => e.message).join("; "));
        else if (result.data) onData(result.data as T);
      },
      error: (err) => onError(err instanceof Error ? err.message : describeClose(err)),
      complete: () => undefined,
    },
  );
  return () => {
    if (onConnected) connectedWaiters.delete(onConnected);
    stop();
  };
}

function describeClose(err: unknown): string {
  if (err && typeof err === "object" && "code" in err) {
    const e = err as { code: number; reason?: string };
    return `connection closed (${e.code}${e.reason ? `: ${e.reason}` : ""})`;
  }
  return String(err);
}
