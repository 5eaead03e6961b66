// dbus/net.rovy.Rovy1.xml, bundled as text (esbuild's text loader): the contract the daemon
// serves is the one the extension reads.
declare module '*.xml' {
  const text: string;
  export default text;
}
