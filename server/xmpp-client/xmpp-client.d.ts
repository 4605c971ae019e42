/** What the tests use of @xmpp/client 0.14, which ships no types. */
declare module '@xmpp/client' {
  /** An XML element of @xmpp/xml (ltx). */
  export interface Element {
    readonly name: string;
    readonly attrs: Record<string, string | undefined>;
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildText(name: string, xmlns?: string): string | null;
  }
  export interface Client {
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(element: Element): Promise<void>;
    on(event: 'stanza', listener: (stanza: Element) => void): void;
    on(event: 'online' | 'offline', listener: () => void): void;
    on(event: 'error', listener: (error: Error) => void): void;
    /** Every element read, nonzas (XEP-0198's) too: @xmpp/connection emits it. */
    on(event: 'element', listener: (element: Element) => void): void;
    once(event: 'online', listener: () => void): void;
  }
  export function client(options: {
    service: string;
    domain: string;
    username: string;
    password: string;
    resource?: string;
  }): Client;
  export function xml(
    name: string,
    attrs?: Record<string, string>,
    ...children: (Element | string)[]
  ): Element;
}
