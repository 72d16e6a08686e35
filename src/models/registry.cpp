#include "models/registry.h"

#include "core/error.h"
#include "models/simple_cnn.h"

// Keras layout
// (helper: add #include lines for Keras-layout models here)
#include "models/keras_inception_v3.h"
#include "models/keras_mobilenet_v1.h"
#include "models/keras_mobilenet_v2.h"
#include "models/keras_resnet.h"
#include "models/keras_vgg.h"
#include "models/keras_xception.h"

// torchvision layout
// (helper: add #include lines for torchvision-layout models here)
#include "models/tv_efficientnet.h"
#include "models/tv_mobilenet_v2.h"
#include "models/tv_mobilenet_v3.h"
#include "models/tv_resnet.h"
#include "models/tv_squeezenet.h"
#include "models/tv_vgg.h"

namespace imagefit {

const std::vector<ArchInfo>& architectures() {
  static const std::vector<ArchInfo> table = {
      {"simple-cnn", "imagefit", "the Keras tutorial's small convnet, trained from scratch",
       [](const BackboneOptions& o) { return std::make_shared<SimpleCnnImpl>(o.image_size > 0 ? o.image_size : 180); }},
      // --- Keras layout (one line an architecture) ---
      {"keras-mobilenet-v2", "keras", "Keras MobileNetV2 (--alpha), input in [-1, 1], 1280 features (alpha <= 1)",
       [](const BackboneOptions& o) { return std::make_shared<KerasMobileNetV2Impl>(o.alpha); }},
      {"keras-mobilenet-v1", "keras", "Keras MobileNet V1 (--alpha), input in [-1, 1], 1024*alpha features",
       [](const BackboneOptions& o) { return std::make_shared<KerasMobileNetV1Impl>(o.alpha); }},
      {"keras-inception-v3", "keras", "Keras InceptionV3, 299x299 (at least 75), input in [-1, 1], 2048 features",
       [](const BackboneOptions&) { return std::make_shared<KerasInceptionV3Impl>(); }},
      {"keras-resnet50", "keras", "Keras ResNet50, 224x224 (at least 32), input caffe (BGR minus mean), 2048 features",
       [](const BackboneOptions&) { return std::make_shared<KerasResNetImpl>(KerasResNetImpl::settings("keras-resnet50")); }},
      {"keras-vgg16", "keras", "Keras VGG16 convolutional part, 224x224 (at least 32), input caffe, 512 features",
       [](const BackboneOptions&) { return std::make_shared<KerasVggImpl>(KerasVggImpl::settings("keras-vgg16")); }},
      {"keras-vgg19", "keras", "Keras VGG19 convolutional part, 224x224 (at least 32), input caffe, 512 features",
       [](const BackboneOptions&) { return std::make_shared<KerasVggImpl>(KerasVggImpl::settings("keras-vgg19")); }},
      {"keras-xception", "keras", "Keras Xception, 299x299 (at least 71), input in [-1, 1], 2048 features",
       [](const BackboneOptions&) { return std::make_shared<KerasXceptionImpl>(); }},
      // --- torchvision layout (one line an architecture) ---
      {"resnet18", "torchvision", "torchvision ResNet-18, 512 features",
       [](const BackboneOptions&) { return std::make_shared<ResNetImpl>(18); }},
      {"resnet34", "torchvision", "torchvision ResNet-34, 512 features",
       [](const BackboneOptions&) { return std::make_shared<ResNetImpl>(34); }},
      {"resnet50", "torchvision", "torchvision ResNet-50, 2048 features",
       [](const BackboneOptions&) { return std::make_shared<ResNetImpl>(50); }},
      {"mobilenet_v2", "torchvision", "torchvision MobileNetV2 (--alpha = width_mult), 1280 features",
       [](const BackboneOptions& o) { return std::make_shared<MobileNetV2Impl>(o.alpha); }},
      {"mobilenet_v3_small", "torchvision", "torchvision MobileNetV3-Small, 576 features",
       [](const BackboneOptions& o) {
         return std::make_shared<MobileNetV3Impl>(MobileNetV3Impl::Size::Small, o.alpha);
       }},
      {"mobilenet_v3_large", "torchvision", "torchvision MobileNetV3-Large, 960 features",
       [](const BackboneOptions& o) {
         return std::make_shared<MobileNetV3Impl>(MobileNetV3Impl::Size::Large, o.alpha);
       }},
      {"squeezenet1_1", "torchvision", "torchvision SqueezeNet 1.1, 512 features",
       [](const BackboneOptions&) { return std::make_shared<SqueezeNet11Impl>(); }},
      {"vgg16", "torchvision", "torchvision VGG-16 convolutional part, 512 features",
       [](const BackboneOptions&) { return std::make_shared<Vgg16Impl>(); }},
      {"efficientnet_b0", "torchvision", "torchvision EfficientNet-B0, 1280 features",
       [](const BackboneOptions&) { return std::make_shared<EfficientNetB0Impl>(); }},
  };
  return table;
}

const ArchInfo& find_architecture(const std::string& name) {
  for (const auto& a : architectures())
    if (a.name == name) return a;
  std::string known;
  for (const auto& a : architectures()) known += (known.empty() ? "" : ", ") + a.name;
  throw Error("unknown architecture '" + name + "' (known: " + known + ")");
}

Backbone make_backbone(const std::string& name, const BackboneOptions& options) {
  return find_architecture(name).make(options);
}

}  // namespace imagefit
