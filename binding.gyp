{
  "targets": [
    {
      "target_name": "rovy_native",
      "sources": ["native/addon.c", "native/tun.c", "native/udp.c", "native/aead.c", "native/offload.c", "native/marks.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11", "-fvisibility=hidden"]
    }
  ]
}
