/** Server URLs by app name (`ws-server`), set by the dev script for the root `pnpm start`. */
declare const __SOCKETLAB_SERVERS__: Record<string, string>;
