{
  "targets": [
    {
      "target_name": "plog_native",
      "sources": ["native/plog_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
