# This file is maintained by kiln lock. Do not edit it by hand.
# Run `kiln lock` to add missing inputs, `kiln lock --update INPUT` to re-resolve one.

version = 1

source "deb" "tools" {
  suite        = "bookworm"
  architecture = "amd64"
  packages     = ["gcc", "libc6-dev", "libseccomp-dev", "pkg-config", "curl", "ca-certificates", "unzip", "dash", "coreutils", "findutils"]

  package "binutils" {
    version      = "2.40-2"
    architecture = "amd64"
    filename     = "pool/main/b/binutils/binutils_2.40-2_amd64.deb"
    sha256       = "83c3e20b53e1fbd84d764c3ba27d26a0376e361ae5d7fb37120196934dd87424"
    size         = 64980
  }

  package "binutils-common" {
    version      = "2.40-2"
    architecture = "amd64"
    filename     = "pool/main/b/binutils/binutils-common_2.40-2_amd64.deb"
    sha256       = "ab314134f43a0891a48f69a9bc33d825da748fa5e0ba2bebb7a5c491b026f1a0"
    size         = 2486664
  }

  package "binutils-x86-64-linux-gnu" {
    version      = "2.40-2"
    architecture = "amd64"
    filename     = "pool/main/b/binutils/binutils-x86-64-linux-gnu_2.40-2_amd64.deb"
    sha256       = "2d7ea8a570d768224d7f2424abbe6f373d2154865a1fa7f56c80d43ecf492521"
    size         = 2245848
  }

  package "ca-certificates" {
    version      = "20230311+deb12u1"
    architecture = "all"
    filename     = "pool/main/c/ca-certificates/ca-certificates_20230311+deb12u1_all.deb"
    sha256       = "0d5f444f594e48c1e16a41d8fc628a09b24c658916a1274025c2330f2a802bed"
    size         = 155260
  }

  package "coreutils" {
    version      = "9.1-1"
    architecture = "amd64"
    filename     = "pool/main/c/coreutils/coreutils_9.1-1_amd64.deb"
    sha256       = "61038f857e346e8500adf53a2a0a20859f4d3a3b51570cc876b153a2d51a3091"
    size         = 2896560
  }

  package "cpp" {
    version      = "4:12.2.0-3"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-defaults/cpp_12.2.0-3_amd64.deb"
    sha256       = "a63db920f7aa1857a57beab185423deffb6111fa09437a99bbb4ef724fb7ba78"
    size         = 6836
  }

  package "cpp-12" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/cpp-12_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "fedbb98e877adde83c983c6071537ea25ac52b277ac6e4637d85025949ca1454"
    size         = 9767788
  }

  package "curl" {
    version      = "7.88.1-10+deb12u15"
    architecture = "amd64"
    filename     = "pool/main/c/curl/curl_7.88.1-10+deb12u15_amd64.deb"
    sha256       = "0dd9b6bf7a0bd11af2d68a52ec44c2a223fa7c11f9104c36ce1047e1137d4a8f"
    size         = 315764
  }

  package "dash" {
    version      = "0.5.12-2"
    architecture = "amd64"
    filename     = "pool/main/d/dash/dash_0.5.12-2_amd64.deb"
    sha256       = "33ea40061da2f1a861ec46212b2b6a34f0776a049b1a3f0abce2fb8cb994258f"
    size         = 91848
  }

  package "debconf" {
    version      = "1.5.82"
    architecture = "all"
    filename     = "pool/main/d/debconf/debconf_1.5.82_all.deb"
    sha256       = "74ab14194a3762b2fc717917dcfda42929ab98e3c59295a063344dc551cd7cc8"
    size         = 121212
  }

  package "debianutils" {
    version      = "5.7-0.5~deb12u1"
    architecture = "amd64"
    filename     = "pool/main/d/debianutils/debianutils_5.7-0.5~deb12u1_amd64.deb"
    sha256       = "55f951359670eb3236c9e2ccd5fac9ccb3db734f5a22aff21589e7a30aee48c9"
    size         = 102588
  }

  package "dpkg" {
    version      = "1.21.23"
    architecture = "amd64"
    filename     = "pool/main/d/dpkg/dpkg_1.21.23_amd64.deb"
    sha256       = "f89e9f8d1a4a50ade44be3ed59a6ec55460fce205d2f8520c5c492137c5b609b"
    size         = 1567804
  }

  package "findutils" {
    version      = "4.9.0-4"
    architecture = "amd64"
    filename     = "pool/main/f/findutils/findutils_4.9.0-4_amd64.deb"
    sha256       = "5dd86bd0af4aa73f067dfd6b8339dd868f2dd84056aa79db29d1206d4fbc5e04"
    size         = 635500
  }

  package "gcc" {
    version      = "4:12.2.0-3"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-defaults/gcc_12.2.0-3_amd64.deb"
    sha256       = "bb63b0fb2797e2a3a294dab8a02614930c557ec1f4ea96637c244b8b5f87e630"
    size         = 5216
  }

  package "gcc-12" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/gcc-12_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "b46f33cc2ec245e435e043807038cecf4b201ef004800e9dfc1455240360e49d"
    size         = 19268852
  }

  package "gcc-12-base" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/gcc-12-base_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "1896a2aacf4ad681ff5eacc24a5b0ca4d5d9c9b9c9e4b6de5197bc1e116ea619"
    size         = 37596
  }

  package "libacl1" {
    version      = "2.3.1-3"
    architecture = "amd64"
    filename     = "pool/main/a/acl/libacl1_2.3.1-3_amd64.deb"
    sha256       = "8be9df5795114bfe90e2be3d208ef47a5edd3fc7b3e20d387a597486d444e5e2"
    size         = 31488
  }

  package "libasan8" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libasan8_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "e7ac5d797d7d438a130674a8e463530f06aa02ecf919ca054d75eaa2f7849ec7"
    size         = 2192652
  }

  package "libatomic1" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libatomic1_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "fbd4e154a6b444229ea002cc209df099209c0adc09102e5fd21239a3d2b55e2d"
    size         = 9376
  }

  package "libattr1" {
    version      = "1:2.5.1-4"
    architecture = "amd64"
    filename     = "pool/main/a/attr/libattr1_2.5.1-4_amd64.deb"
    sha256       = "c4945123d66d0503ba42e2fc0585abc76d0838978c6d277b9cc37a4da25d1a34"
    size         = 22164
  }

  package "libbinutils" {
    version      = "2.40-2"
    architecture = "amd64"
    filename     = "pool/main/b/binutils/libbinutils_2.40-2_amd64.deb"
    sha256       = "fcf55b99e5f8a78f3c8ce9b6957f1024f394cf20c196b100d308a57e43547710"
    size         = 572104
  }

  package "libbrotli1" {
    version      = "1.0.9-2+b6"
    architecture = "amd64"
    filename     = "pool/main/b/brotli/libbrotli1_1.0.9-2+b6_amd64.deb"
    sha256       = "563b4caec1aa5e876bd3355b36e7a38e1484baf5a293b48d1e8bd22db786e4d7"
    size         = 275248
  }

  package "libbz2-1.0" {
    version      = "1.0.8-5+b1"
    architecture = "amd64"
    filename     = "pool/main/b/bzip2/libbz2-1.0_1.0.8-5+b1_amd64.deb"
    sha256       = "54149da3f44b22d523b26b692033b84503d822cc5122fed606ea69cc83ca5aeb"
    size         = 47348
  }

  package "libc-dev-bin" {
    version      = "2.36-9+deb12u14"
    architecture = "amd64"
    filename     = "pool/main/g/glibc/libc-dev-bin_2.36-9+deb12u14_amd64.deb"
    sha256       = "f61d923b703401023bec2ac3d9d1c9ad7341930fbe11736f7f5ef64b489d03c4"
    size         = 48056
  }

  package "libc6" {
    version      = "2.36-9+deb12u14"
    architecture = "amd64"
    filename     = "pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb"
    sha256       = "ba4f88f73dbc3ae9055f3c20f4523bfdbaf1ad13ff95e258924f77d20b4fbedf"
    size         = 2759320
  }

  package "libc6-dev" {
    version      = "2.36-9+deb12u14"
    architecture = "amd64"
    filename     = "pool/main/g/glibc/libc6-dev_2.36-9+deb12u14_amd64.deb"
    sha256       = "0218fc2befcd784c1b0c6292c0a137ce89fad054efaa579ad083bee0f2c01aae"
    size         = 1903668
  }

  package "libcc1-0" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libcc1-0_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "4ee6009633003f47de98333ea7f7d8835ec563ae2ac4f30251dbfee04d75d46b"
    size         = 41736
  }

  package "libcom-err2" {
    version      = "1.47.0-2+b2"
    architecture = "amd64"
    filename     = "pool/main/e/e2fsprogs/libcom-err2_1.47.0-2+b2_amd64.deb"
    sha256       = "a2bac7015e78fbc0c504df3e441f3a22292f1d2d77f9ccda760057f3690e22f2"
    size         = 20044
  }

  package "libcrypt-dev" {
    version      = "1:4.4.33-2"
    architecture = "amd64"
    filename     = "pool/main/libx/libxcrypt/libcrypt-dev_4.4.33-2_amd64.deb"
    sha256       = "81ccd29130f75a9e3adabc80e61921abff42f76761e1f792fa2d1bb69af7f52f"
    size         = 118144
  }

  package "libcrypt1" {
    version      = "1:4.4.33-2"
    architecture = "amd64"
    filename     = "pool/main/libx/libxcrypt/libcrypt1_4.4.33-2_amd64.deb"
    sha256       = "f5f60a5cdfd4e4eaa9438ade5078a57741a7a78d659fcb0c701204f523e8bd29"
    size         = 89464
  }

  package "libctf-nobfd0" {
    version      = "2.40-2"
    architecture = "amd64"
    filename     = "pool/main/b/binutils/libctf-nobfd0_2.40-2_amd64.deb"
    sha256       = "ef1dfcf22de41ea90ebd3d505447ccccd999e96b85aa777a1d7d981dc3b347aa"
    size         = 153384
  }

  package "libctf0" {
    version      = "2.40-2"
    architecture = "amd64"
    filename     = "pool/main/b/binutils/libctf0_2.40-2_amd64.deb"
    sha256       = "3fb7b6f326be3fae4a87a3d33b9269bd06c1e4346a24bd737f265067e3b7427f"
    size         = 89796
  }

  package "libcurl4" {
    version      = "7.88.1-10+deb12u15"
    architecture = "amd64"
    filename     = "pool/main/c/curl/libcurl4_7.88.1-10+deb12u15_amd64.deb"
    sha256       = "3042904de01f9c4fbdcf1452b8f81abedcf2b015f9b9deba109063322b5bd68b"
    size         = 392184
  }

  package "libdb5.3" {
    version      = "5.3.28+dfsg2-1"
    architecture = "amd64"
    filename     = "pool/main/d/db5.3/libdb5.3_5.3.28+dfsg2-1_amd64.deb"
    sha256       = "7dc5127b8dd0da80e992ba594954c005ae4359d839a24eb65d0d8129b5235c84"
    size         = 697412
  }

  package "libffi8" {
    version      = "3.4.4-1"
    architecture = "amd64"
    filename     = "pool/main/libf/libffi/libffi8_3.4.4-1_amd64.deb"
    sha256       = "6d9f6c25c30efccce6d4bceaa48ea86c329a3432abb360a141f76ac223a4c34a"
    size         = 22856
  }

  package "libgcc-12-dev" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libgcc-12-dev_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "d720259380a84f2ffc6fe516eff5cbe9c8a005138e8d6a5748747ba4b3404a82"
    size         = 2437204
  }

  package "libgcc-s1" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libgcc-s1_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "3016e62cb4b7cd8038822870601f5ed131befe942774d0f745622cc77d8a88f7"
    size         = 49856
  }

  package "libgmp10" {
    version      = "2:6.2.1+dfsg1-1.1"
    architecture = "amd64"
    filename     = "pool/main/g/gmp/libgmp10_6.2.1+dfsg1-1.1_amd64.deb"
    sha256       = "187aedef2ed763f425c1e523753b9719677633c7eede660401739e9c893482bd"
    size         = 562588
  }

  package "libgnutls30" {
    version      = "3.7.9-2+deb12u7"
    architecture = "amd64"
    filename     = "pool/main/g/gnutls28/libgnutls30_3.7.9-2+deb12u7_amd64.deb"
    sha256       = "30abec8c824feb1d2d7e9000a34083cccd19d139625e1b21547e3ac53b922f8e"
    size         = 1409084
  }

  package "libgomp1" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libgomp1_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "48fec46bda7f5b1638b9e959889bfbc20491247d402d120bb152687eb48143d7"
    size         = 115772
  }

  package "libgprofng0" {
    version      = "2.40-2"
    architecture = "amd64"
    filename     = "pool/main/b/binutils/libgprofng0_2.40-2_amd64.deb"
    sha256       = "a3c4092d84f19d13caf90f3c96eec53db8819f0e3a5247434944d71ed75fa53d"
    size         = 812120
  }

  package "libgssapi-krb5-2" {
    version      = "1.20.1-2+deb12u5"
    architecture = "amd64"
    filename     = "pool/main/k/krb5/libgssapi-krb5-2_1.20.1-2+deb12u5_amd64.deb"
    sha256       = "d8b87aea91b956b416c01a28c44ff6228315ae3b73de40acddac3dc5043607d2"
    size         = 135168
  }

  package "libhogweed6" {
    version      = "3.8.1-2"
    architecture = "amd64"
    filename     = "pool/main/n/nettle/libhogweed6_3.8.1-2_amd64.deb"
    sha256       = "ed8185c28b2cb519744a5a462dcd720d3b332c9b88a1d0002eac06dc8550cb94"
    size         = 327524
  }

  package "libidn2-0" {
    version      = "2.3.3-1+b1"
    architecture = "amd64"
    filename     = "pool/main/libi/libidn2/libidn2-0_2.3.3-1+b1_amd64.deb"
    sha256       = "d50716d5824083d667427817d506b45d3f59dc77e1ca52de000f3f62d4918afa"
    size         = 123636
  }

  package "libisl23" {
    version      = "0.25-1.1"
    architecture = "amd64"
    filename     = "pool/main/i/isl/libisl23_0.25-1.1_amd64.deb"
    sha256       = "ebff0b2f8b220c74224197523019366e97ee4770d464bebc48e4865114e4da0e"
    size         = 683060
  }

  package "libitm1" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libitm1_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "0ed5b35dfd1346cccbf065408ec789db6c44c1d0a16ae84533411dea09632979"
    size         = 26140
  }

  package "libjansson4" {
    version      = "2.14-2"
    architecture = "amd64"
    filename     = "pool/main/j/jansson/libjansson4_2.14-2_amd64.deb"
    sha256       = "3fc9742f9f1a37bcb9931df6074b4d1483419ef832ad5349f47323e75fc27864"
    size         = 40788
  }

  package "libk5crypto3" {
    version      = "1.20.1-2+deb12u5"
    architecture = "amd64"
    filename     = "pool/main/k/krb5/libk5crypto3_1.20.1-2+deb12u5_amd64.deb"
    sha256       = "7b6e47d15c5c9cdcd456137533d8308aeba608a54cec73b28bd59bfc4b54cf06"
    size         = 79712
  }

  package "libkeyutils1" {
    version      = "1.6.3-2"
    architecture = "amd64"
    filename     = "pool/main/k/keyutils/libkeyutils1_1.6.3-2_amd64.deb"
    sha256       = "cfac89e6a7a54ff3c6a4f843310e25efeddaa771baeae470bd98bd588c373563"
    size         = 8808
  }

  package "libkrb5-3" {
    version      = "1.20.1-2+deb12u5"
    architecture = "amd64"
    filename     = "pool/main/k/krb5/libkrb5-3_1.20.1-2+deb12u5_amd64.deb"
    sha256       = "c90801be09701af221b54dd502a59cb378b7284ff31e480738baca317d2f7653"
    size         = 332280
  }

  package "libkrb5support0" {
    version      = "1.20.1-2+deb12u5"
    architecture = "amd64"
    filename     = "pool/main/k/krb5/libkrb5support0_1.20.1-2+deb12u5_amd64.deb"
    sha256       = "8b9c05f2d8d461a10d657b118f572af5bf8fd6c8f93dcef81e852c5ab0f428ab"
    size         = 33212
  }

  package "libldap-2.5-0" {
    version      = "2.5.13+dfsg-5"
    architecture = "amd64"
    filename     = "pool/main/o/openldap/libldap-2.5-0_2.5.13+dfsg-5_amd64.deb"
    sha256       = "4b6c30f6554149c594628d945edc6003f0eea8d0cc1341638c0e71375db147ed"
    size         = 183248
  }

  package "liblsan0" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/liblsan0_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "d234ab339c0ba31a4fb44e2334cf5a8d15b87f2c2f9e74fadfaa877f92dcf22a"
    size         = 969300
  }

  package "liblzma5" {
    version      = "5.4.1-1+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/x/xz-utils/liblzma5_5.4.1-1+deb12u1_amd64.deb"
    sha256       = "f96d8876b53ec89d76a992bc199679b818cf518225a768954d9451fb556a4eb7"
    size         = 205732
  }

  package "libmd0" {
    version      = "1.0.4-2"
    architecture = "amd64"
    filename     = "pool/main/libm/libmd/libmd0_1.0.4-2_amd64.deb"
    sha256       = "03539fd30c509e27101d13a56e52eda9062bdf1aefe337c07ab56def25a13eab"
    size         = 29456
  }

  package "libmpc3" {
    version      = "1.3.1-1"
    architecture = "amd64"
    filename     = "pool/main/m/mpclib3/libmpc3_1.3.1-1_amd64.deb"
    sha256       = "d7f79544790e44f9b0c8cb9034a18c58d37f8702a15f32539050718679e52f80"
    size         = 51480
  }

  package "libmpfr6" {
    version      = "4.2.0-1"
    architecture = "amd64"
    filename     = "pool/main/m/mpfr4/libmpfr6_4.2.0-1_amd64.deb"
    sha256       = "37b7a2b4e78890b6a074777f27b96c84f58e81558ba08410c2b6c0ca4a4ad77b"
    size         = 700900
  }

  package "libnettle8" {
    version      = "3.8.1-2"
    architecture = "amd64"
    filename     = "pool/main/n/nettle/libnettle8_3.8.1-2_amd64.deb"
    sha256       = "45922e6e289ffd92f0f92d2bb9159e84236ff202d552a461bf10e5335b3f0261"
    size         = 287764
  }

  package "libnghttp2-14" {
    version      = "1.52.0-1+deb12u3"
    architecture = "amd64"
    filename     = "pool/main/n/nghttp2/libnghttp2-14_1.52.0-1+deb12u3_amd64.deb"
    sha256       = "5a5736cee57e51c1baed869979e6ecdbc6495e939e33203d6cfe3b6e5a149e3f"
    size         = 72404
  }

  package "libnsl-dev" {
    version      = "1.3.0-2"
    architecture = "amd64"
    filename     = "pool/main/libn/libnsl/libnsl-dev_1.3.0-2_amd64.deb"
    sha256       = "bb81a188c119cd7fdebae723cbc95887b6c549b2fe4fb7e268a9c8846444da99"
    size         = 66436
  }

  package "libnsl2" {
    version      = "1.3.0-2"
    architecture = "amd64"
    filename     = "pool/main/libn/libnsl/libnsl2_1.3.0-2_amd64.deb"
    sha256       = "c0d83437fdb016cb289436f49f28a36be44b3e8f1f2498c7e3a095f709c0d6f8"
    size         = 39480
  }

  package "libp11-kit0" {
    version      = "0.24.1-2"
    architecture = "amd64"
    filename     = "pool/main/p/p11-kit/libp11-kit0_0.24.1-2_amd64.deb"
    sha256       = "251330faddbf013f060fcdb41f4b0c037c8a6e89ba7c09b04bfcc4e3f0807b22"
    size         = 345080
  }

  package "libpcre2-8-0" {
    version      = "10.42-1"
    architecture = "amd64"
    filename     = "pool/main/p/pcre2/libpcre2-8-0_10.42-1_amd64.deb"
    sha256       = "030db54f4d76cdfe2bf0e8eb5f9efea0233ab3c7aa942d672c7b63b52dbaf935"
    size         = 260776
  }

  package "libpkgconf3" {
    version      = "1.8.1-1"
    architecture = "amd64"
    filename     = "pool/main/p/pkgconf/libpkgconf3_1.8.1-1_amd64.deb"
    sha256       = "da01fb901123ae498c36387a32240e09e1f2866810146c5a574273f7eaf31093"
    size         = 36084
  }

  package "libpsl5" {
    version      = "0.21.2-1"
    architecture = "amd64"
    filename     = "pool/main/libp/libpsl/libpsl5_0.21.2-1_amd64.deb"
    sha256       = "4f0d35610204e4e754b057748719744114621f2f6f4202d846c314860a981afb"
    size         = 58684
  }

  package "libquadmath0" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libquadmath0_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "3f0c9a4c730da2fdab001cae596625438598fd2996d29d888feeb4c1cdc9011f"
    size         = 144616
  }

  package "librtmp1" {
    version      = "2.4+20151223.gitfa8646d.1-2+b2"
    architecture = "amd64"
    filename     = "pool/main/r/rtmpdump/librtmp1_2.4+20151223.gitfa8646d.1-2+b2_amd64.deb"
    sha256       = "e1f69020dc2c466e421ec6a58406b643be8b5c382abf0f8989011c1d3df91c87"
    size         = 60824
  }

  package "libsasl2-2" {
    version      = "2.1.28+dfsg-10"
    architecture = "amd64"
    filename     = "pool/main/c/cyrus-sasl2/libsasl2-2_2.1.28+dfsg-10_amd64.deb"
    sha256       = "11ee190ad39f8d7af441d2c8347388b9449434c73acc67b4b372445ac4152efa"
    size         = 59712
  }

  package "libsasl2-modules-db" {
    version      = "2.1.28+dfsg-10"
    architecture = "amd64"
    filename     = "pool/main/c/cyrus-sasl2/libsasl2-modules-db_2.1.28+dfsg-10_amd64.deb"
    sha256       = "3ac4fd6cbe3b3b06e68d24b931bf3eb9385b42f15604a37ed25310e948ca0ee6"
    size         = 20336
  }

  package "libseccomp-dev" {
    version      = "2.5.4-1+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/libs/libseccomp/libseccomp-dev_2.5.4-1+deb12u1_amd64.deb"
    sha256       = "5fb305f3aeb293e2b78a4cfcb58c0f42179703c371a408d002c8454661e6b7b2"
    size         = 90828
  }

  package "libseccomp2" {
    version      = "2.5.4-1+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/libs/libseccomp/libseccomp2_2.5.4-1+deb12u1_amd64.deb"
    sha256       = "108fe67957ca7cf9ba51d801118a1b37d404bea7b6e365025cd00779e9eca38d"
    size         = 46808
  }

  package "libselinux1" {
    version      = "3.4-1+b6"
    architecture = "amd64"
    filename     = "pool/main/libs/libselinux/libselinux1_3.4-1+b6_amd64.deb"
    sha256       = "2b07f5287b9105f40158b56e4d70cc1652dac56a408f3507b4ab3d061eed425f"
    size         = 73720
  }

  package "libssh2-1" {
    version      = "1.10.0-3+b1"
    architecture = "amd64"
    filename     = "pool/main/libs/libssh2/libssh2-1_1.10.0-3+b1_amd64.deb"
    sha256       = "d20a3ee34fa84ad8bd381e8be6e9c2c2ea32347cff5e1169c10e978d43f54f24"
    size         = 178704
  }

  package "libssl3" {
    version      = "3.0.20-1~deb12u2"
    architecture = "amd64"
    filename     = "pool/main/o/openssl/libssl3_3.0.20-1~deb12u2_amd64.deb"
    sha256       = "89be24b41bff568ee6e7caf5680a3d808e80315ed92e407056ce0fa7a5bda025"
    size         = 2036016
  }

  package "libstdc++6" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libstdc++6_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "5cd3171216d4ab0fc911cfe9c35509bf2dd8f47761c43b7f6a4296701551a24d"
    size         = 612604
  }

  package "libtasn1-6" {
    version      = "4.19.0-2+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/libt/libtasn1-6/libtasn1-6_4.19.0-2+deb12u1_amd64.deb"
    sha256       = "2c27c613b69be248d09432839ea3d3382f6ee27fabaa65987aa2d884cd00afda"
    size         = 48596
  }

  package "libtirpc-common" {
    version      = "1.3.3+ds-1"
    architecture = "all"
    filename     = "pool/main/libt/libtirpc/libtirpc-common_1.3.3+ds-1_all.deb"
    sha256       = "3e3ef129b4bf61513144236e15e1b4ec57fa5ae3dc8a72137abdbefb7a63af85"
    size         = 14048
  }

  package "libtirpc-dev" {
    version      = "1.3.3+ds-1"
    architecture = "amd64"
    filename     = "pool/main/libt/libtirpc/libtirpc-dev_1.3.3+ds-1_amd64.deb"
    sha256       = "03326473eed54ffa27efae19aa5d6aeb402930968f869f318445513093691d55"
    size         = 191428
  }

  package "libtirpc3" {
    version      = "1.3.3+ds-1"
    architecture = "amd64"
    filename     = "pool/main/libt/libtirpc/libtirpc3_1.3.3+ds-1_amd64.deb"
    sha256       = "2a46d5a5e9486da11ffeff5740931740d6deae4f92cd6098df060dc5dff1e1c7"
    size         = 85192
  }

  package "libtsan2" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libtsan2_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "06906663d644a75a1a836382ecd80b61461129c06f02935ce408b25809f6c958"
    size         = 2196972
  }

  package "libubsan1" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libubsan1_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "744f52adf00ffd45d44806b1c7e802a36bd27e479c9bc8457128fde357faa530"
    size         = 883056
  }

  package "libunistring2" {
    version      = "1.0-2"
    architecture = "amd64"
    filename     = "pool/main/libu/libunistring/libunistring2_1.0-2_amd64.deb"
    sha256       = "d466bbfe011d764d793c1d9d777cad9c7cf65b938e11598f27408171ad95a951"
    size         = 436708
  }

  package "libzstd1" {
    version      = "1.5.4+dfsg2-5"
    architecture = "amd64"
    filename     = "pool/main/libz/libzstd/libzstd1_1.5.4+dfsg2-5_amd64.deb"
    sha256       = "6315b5ac38b724a710fb96bf1042019398cb656718b1522279a5185ed39318fa"
    size         = 290036
  }

  package "linux-libc-dev" {
    version      = "6.1.176-1"
    architecture = "amd64"
    filename     = "pool/main/l/linux/linux-libc-dev_6.1.176-1_amd64.deb"
    sha256       = "8bb258735b9dffbb111da778ebdd024750878e435ffd9dfcadcb6762ede6b4cf"
    size         = 2303828
  }

  package "openssl" {
    version      = "3.0.20-1~deb12u2"
    architecture = "amd64"
    filename     = "pool/main/o/openssl/openssl_3.0.20-1~deb12u2_amd64.deb"
    sha256       = "4d218561dc838de081de97f54584c4a29e77e26c7ed9fe3440d776d8e6071bf9"
    size         = 1438712
  }

  package "pkg-config" {
    version      = "1.8.1-1"
    architecture = "amd64"
    filename     = "pool/main/p/pkgconf/pkg-config_1.8.1-1_amd64.deb"
    sha256       = "312b2bdeff4671f8e0d589c124554890e944dd083061e9ad6f129bc76a970765"
    size         = 13688
  }

  package "pkgconf" {
    version      = "1.8.1-1"
    architecture = "amd64"
    filename     = "pool/main/p/pkgconf/pkgconf_1.8.1-1_amd64.deb"
    sha256       = "4e3ce982b5fedc6c6119268435504a64f5ffcc6d93aaecaea902d816eba1215f"
    size         = 25892
  }

  package "pkgconf-bin" {
    version      = "1.8.1-1"
    architecture = "amd64"
    filename     = "pool/main/p/pkgconf/pkgconf-bin_1.8.1-1_amd64.deb"
    sha256       = "8fb5a8f83e46ad04b4cf02651ceec56c0611a335cf0d30780d859a95d0400174"
    size         = 29472
  }

  package "rpcsvc-proto" {
    version      = "1.4.3-1"
    architecture = "amd64"
    filename     = "pool/main/r/rpcsvc-proto/rpcsvc-proto_1.4.3-1_amd64.deb"
    sha256       = "32ac0692694f8a34cc90c895f4fc739680fb2ef0e2d4870a68833682bf1c81a3"
    size         = 63268
  }

  package "tar" {
    version      = "1.34+dfsg-1.2+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/t/tar/tar_1.34+dfsg-1.2+deb12u1_amd64.deb"
    sha256       = "24fb92e98c2969171f81a8b589263d705f6b1670f95d121cd74c810d4605acc3"
    size         = 836288
  }

  package "unzip" {
    version      = "6.0-28"
    architecture = "amd64"
    filename     = "pool/main/u/unzip/unzip_6.0-28_amd64.deb"
    sha256       = "b3d9529c34382cc8d2e6cc8299a18536504edbc284b9133ffbe522704865068e"
    size         = 166496
  }

  package "zlib1g" {
    version      = "1:1.2.13.dfsg-1"
    architecture = "amd64"
    filename     = "pool/main/z/zlib/zlib1g_1.2.13.dfsg-1_amd64.deb"
    sha256       = "d7dd1d1411fedf27f5e27650a6eff20ef294077b568f4c8c5e51466dc7c08ce4"
    size         = 86684
  }
}

run "stage.go" "0" {
  step        = "sha256:e7379b42b1bb10d12e4a76e1779fdc125d2f61e4f0e1db5f63f0bd4bb5f9c854"
  output_hash = "sha256:013b24e1b52ec50925f135c99a30cd21590f04724108772203e3fc45a1643972"
}

run "stage.modules" "0" {
  step        = "sha256:3dcf380c7936db3dbea4650a656d382bb7de1c303643b16ea6f247af544595fb"
  output_hash = "sha256:bec4e3cebb7f005be438a18fb1a7aaeda58b1bde17405121ca34393b6b55936e"
}
