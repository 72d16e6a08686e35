# ONNX protobuf messages (Debian libonnx-dev) for `imagefit export --format onnx`.
# Defines the imported targets `onnx_proto` (the generated onnx-ml.pb.h messages, ONNX_ML=1,
# ONNX_NAMESPACE=onnx) and `onnx` (checker and shape inference, used to validate what we write).
# onnx_proto links protobuf::libprotobuf, which FindProtobuf defines, so Protobuf comes first.
# Debian's LibTorch links the same libonnx/libprotobuf, so there is one copy of each in a process.
find_package(Protobuf REQUIRED)
find_package(ONNX CONFIG REQUIRED)
if(NOT TARGET onnx OR NOT TARGET onnx_proto)
  message(FATAL_ERROR "ONNX package found but its targets onnx / onnx_proto are missing (install libonnx-dev)")
endif()
