# This file is maintained by kiln lock. Do not edit it by hand.
# Run `kiln lock` to add missing inputs, `kiln lock --update INPUT` to re-resolve one.

version = 1

source "deb" "runtime" {
  suite        = "bookworm"
  architecture = "amd64"
  packages     = ["libc6"]

  package "gcc-12-base" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/gcc-12-base_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "1896a2aacf4ad681ff5eacc24a5b0ca4d5d9c9b9c9e4b6de5197bc1e116ea619"
    size         = 37596
  }

  package "libc6" {
    version      = "2.36-9+deb12u14"
    architecture = "amd64"
    filename     = "pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb"
    sha256       = "ba4f88f73dbc3ae9055f3c20f4523bfdbaf1ad13ff95e258924f77d20b4fbedf"
    size         = 2759320
  }

  package "libgcc-s1" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libgcc-s1_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "3016e62cb4b7cd8038822870601f5ed131befe942774d0f745622cc77d8a88f7"
    size         = 49856
  }
}

source "deb" "runtime" {
  suite        = "bookworm"
  architecture = "arm64"
  packages     = ["libc6"]

  package "gcc-12-base" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/gcc-12-base_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "674cf6cba6d432bd200c45fe866c1652c7a53523cc2e7a613e05bc4abf7b5440"
    size         = 37624
  }

  package "libc6" {
    version      = "2.36-9+deb12u14"
    architecture = "arm64"
    filename     = "pool/main/g/glibc/libc6_2.36-9+deb12u14_arm64.deb"
    sha256       = "01f4330719fd4f65580e16ea5a0527f372fca750e8f588d26deaf09f2d3b1cf4"
    size         = 2324660
  }

  package "libgcc-s1" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/libgcc-s1_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "576926b283613db80168ddf76380a3bd877602778cf0d226caa7bfbfa71eacf3"
    size         = 34816
  }
}

source "deb" "toolchain" {
  suite        = "bookworm"
  architecture = "amd64"
  packages     = ["gcc", "libc6-dev"]

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

  package "libbinutils" {
    version      = "2.40-2"
    architecture = "amd64"
    filename     = "pool/main/b/binutils/libbinutils_2.40-2_amd64.deb"
    sha256       = "fcf55b99e5f8a78f3c8ce9b6957f1024f394cf20c196b100d308a57e43547710"
    size         = 572104
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

  package "liblsan0" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/liblsan0_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "d234ab339c0ba31a4fb44e2334cf5a8d15b87f2c2f9e74fadfaa877f92dcf22a"
    size         = 969300
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

  package "libquadmath0" {
    version      = "12.2.0-14+deb12u1"
    architecture = "amd64"
    filename     = "pool/main/g/gcc-12/libquadmath0_12.2.0-14+deb12u1_amd64.deb"
    sha256       = "3f0c9a4c730da2fdab001cae596625438598fd2996d29d888feeb4c1cdc9011f"
    size         = 144616
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

  package "rpcsvc-proto" {
    version      = "1.4.3-1"
    architecture = "amd64"
    filename     = "pool/main/r/rpcsvc-proto/rpcsvc-proto_1.4.3-1_amd64.deb"
    sha256       = "32ac0692694f8a34cc90c895f4fc739680fb2ef0e2d4870a68833682bf1c81a3"
    size         = 63268
  }

  package "zlib1g" {
    version      = "1:1.2.13.dfsg-1"
    architecture = "amd64"
    filename     = "pool/main/z/zlib/zlib1g_1.2.13.dfsg-1_amd64.deb"
    sha256       = "d7dd1d1411fedf27f5e27650a6eff20ef294077b568f4c8c5e51466dc7c08ce4"
    size         = 86684
  }
}

source "deb" "toolchain" {
  suite        = "bookworm"
  architecture = "arm64"
  packages     = ["gcc", "libc6-dev"]

  package "binutils" {
    version      = "2.40-2"
    architecture = "arm64"
    filename     = "pool/main/b/binutils/binutils_2.40-2_arm64.deb"
    sha256       = "546129bb85470fa3b5398d7429cd87c5353ab47f37e9d5e28abc57e6923a24fa"
    size         = 64944
  }

  package "binutils-aarch64-linux-gnu" {
    version      = "2.40-2"
    architecture = "arm64"
    filename     = "pool/main/b/binutils/binutils-aarch64-linux-gnu_2.40-2_arm64.deb"
    sha256       = "fa154fed9b3bb5e11c4c152c3faaa5b56dce9ea39fed68156c3d656c97b4a11e"
    size         = 2637164
  }

  package "binutils-common" {
    version      = "2.40-2"
    architecture = "arm64"
    filename     = "pool/main/b/binutils/binutils-common_2.40-2_arm64.deb"
    sha256       = "2e340788164c94d876ab88c41f85ec0875a9f4324f83c93a44a14879925a11a0"
    size         = 2486664
  }

  package "cpp" {
    version      = "4:12.2.0-3"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-defaults/cpp_12.2.0-3_arm64.deb"
    sha256       = "b4a7ff301927330e6120450fcfcbcf016cf58e485dc6f113b110e8a8280fbfca"
    size         = 6832
  }

  package "cpp-12" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/cpp-12_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "f95ae5b0f967bf9de96c952e12b865b133756f3f07f904a64a1fec5fcf3d20e7"
    size         = 8228384
  }

  package "gcc" {
    version      = "4:12.2.0-3"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-defaults/gcc_12.2.0-3_arm64.deb"
    sha256       = "81e86d3d3cd6731201b88fe5d8881aa281d7ffbfd8cc1c269c7a116c7b405e8d"
    size         = 5244
  }

  package "gcc-12" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/gcc-12_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "d4f6bc31cefeb188eddc7e0f738f51c12f863cd03502935c388a9f305f558996"
    size         = 16300644
  }

  package "gcc-12-base" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/gcc-12-base_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "674cf6cba6d432bd200c45fe866c1652c7a53523cc2e7a613e05bc4abf7b5440"
    size         = 37624
  }

  package "libasan8" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/libasan8_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "e458ed0f5a845d0f247de5985aa2478e78619e3bf054de7a2a02ec5e200e34f4"
    size         = 2096136
  }

  package "libatomic1" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/libatomic1_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "1693aa13ce2b30d061a519fc28b77b9bab8c8e45804ced5969d99821e1bc2159"
    size         = 9568
  }

  package "libbinutils" {
    version      = "2.40-2"
    architecture = "arm64"
    filename     = "pool/main/b/binutils/libbinutils_2.40-2_arm64.deb"
    sha256       = "1987db5a2ca550be3153dce8b23d6b2e038079c4de0b26b349e5b742e293ad23"
    size         = 645336
  }

  package "libc-dev-bin" {
    version      = "2.36-9+deb12u14"
    architecture = "arm64"
    filename     = "pool/main/g/glibc/libc-dev-bin_2.36-9+deb12u14_arm64.deb"
    sha256       = "8fc74833f9eb19e39e760bff5b9d7e85a06d6513edf3685bf2ea6f9c710867a6"
    size         = 47220
  }

  package "libc6" {
    version      = "2.36-9+deb12u14"
    architecture = "arm64"
    filename     = "pool/main/g/glibc/libc6_2.36-9+deb12u14_arm64.deb"
    sha256       = "01f4330719fd4f65580e16ea5a0527f372fca750e8f588d26deaf09f2d3b1cf4"
    size         = 2324660
  }

  package "libc6-dev" {
    version      = "2.36-9+deb12u14"
    architecture = "arm64"
    filename     = "pool/main/g/glibc/libc6-dev_2.36-9+deb12u14_arm64.deb"
    sha256       = "8bc395bf2ee9939f1a6ae395f974cffdcf541d98f99adfe89ce7e4bef36d159e"
    size         = 1435692
  }

  package "libcc1-0" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/libcc1-0_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "ed4d33378031fb5138486e3aa648d57003456f257265a54059042fe952026fd8"
    size         = 37700
  }

  package "libcom-err2" {
    version      = "1.47.0-2+b2"
    architecture = "arm64"
    filename     = "pool/main/e/e2fsprogs/libcom-err2_1.47.0-2+b2_arm64.deb"
    sha256       = "36c15f933a965b50f4c9558d792d9556934c84e532703935d8ae7e69dd3fa863"
    size         = 19928
  }

  package "libcrypt-dev" {
    version      = "1:4.4.33-2"
    architecture = "arm64"
    filename     = "pool/main/libx/libxcrypt/libcrypt-dev_4.4.33-2_arm64.deb"
    sha256       = "8f40a050f6d54b47b0972f77ea29932573e0e6b4521b833c9d825f46a9db8b75"
    size         = 120532
  }

  package "libcrypt1" {
    version      = "1:4.4.33-2"
    architecture = "arm64"
    filename     = "pool/main/libx/libxcrypt/libcrypt1_4.4.33-2_arm64.deb"
    sha256       = "eea0ad76ea5eb507127fea0c291622ea4ecdbb71c4b9a8ed9c76ae33fc1a0127"
    size         = 90044
  }

  package "libctf-nobfd0" {
    version      = "2.40-2"
    architecture = "arm64"
    filename     = "pool/main/b/binutils/libctf-nobfd0_2.40-2_arm64.deb"
    sha256       = "27a232cba9b33bd8495e7ccc8ffbe24c729574a8073df0851decba037fb12a63"
    size         = 143508
  }

  package "libctf0" {
    version      = "2.40-2"
    architecture = "arm64"
    filename     = "pool/main/b/binutils/libctf0_2.40-2_arm64.deb"
    sha256       = "539036b9ecf8af5e803962ffcf0639332dcb3a027a7ab10b174f8f92272f5b21"
    size         = 79188
  }

  package "libgcc-12-dev" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/libgcc-12-dev_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "c83d28b7c3397c25f15ae17783fce78716a3d7cd415940940cc2af8dc4db8d6d"
    size         = 955600
  }

  package "libgcc-s1" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/libgcc-s1_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "576926b283613db80168ddf76380a3bd877602778cf0d226caa7bfbfa71eacf3"
    size         = 34816
  }

  package "libgmp10" {
    version      = "2:6.2.1+dfsg1-1.1"
    architecture = "arm64"
    filename     = "pool/main/g/gmp/libgmp10_6.2.1+dfsg1-1.1_arm64.deb"
    sha256       = "9906387c1dd806518c915bd8616d072c741061d7fa26b222e52763456060b31a"
    size         = 537920
  }

  package "libgomp1" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/libgomp1_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "a48b70dd1a95585466b40bd94564bce56ebcb2566e49ccdb6441e996aaab2098"
    size         = 104092
  }

  package "libgprofng0" {
    version      = "2.40-2"
    architecture = "arm64"
    filename     = "pool/main/b/binutils/libgprofng0_2.40-2_arm64.deb"
    sha256       = "dd0d7fe758461a2a5560b272a7b71b26b571258554adfb5e9b72c4f18ddf6b24"
    size         = 680048
  }

  package "libgssapi-krb5-2" {
    version      = "1.20.1-2+deb12u5"
    architecture = "arm64"
    filename     = "pool/main/k/krb5/libgssapi-krb5-2_1.20.1-2+deb12u5_arm64.deb"
    sha256       = "a00678963f692a929312968f19b77a61a8fc0011690d7dc909a8a2c4810fc7b3"
    size         = 124152
  }

  package "libhwasan0" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/libhwasan0_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "48085824a1a42c0a85bbe37381b49eeee3e43305827ac193e184d0d9a5306481"
    size         = 998584
  }

  package "libisl23" {
    version      = "0.25-1.1"
    architecture = "arm64"
    filename     = "pool/main/i/isl/libisl23_0.25-1.1_arm64.deb"
    sha256       = "e7232e299714254a9473d7eacdf6879eedf02b950c87da145f5d605800710c6c"
    size         = 609984
  }

  package "libitm1" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/libitm1_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "bec6094592fe01ac103ef45d7f16ffa3ada2e98e26769bd1ed43283703bb08bd"
    size         = 23964
  }

  package "libjansson4" {
    version      = "2.14-2"
    architecture = "arm64"
    filename     = "pool/main/j/jansson/libjansson4_2.14-2_arm64.deb"
    sha256       = "49fda2bcfdf6b78098a5cdc9eaee23ef1f3b331559f02f1e32bc26f1fb6b4aec"
    size         = 40208
  }

  package "libk5crypto3" {
    version      = "1.20.1-2+deb12u5"
    architecture = "arm64"
    filename     = "pool/main/k/krb5/libk5crypto3_1.20.1-2+deb12u5_arm64.deb"
    sha256       = "8ae2c31cde0b3e6f80c573a495b0f90bf6d9efb4455d900728278bb54d9092e5"
    size         = 79880
  }

  package "libkeyutils1" {
    version      = "1.6.3-2"
    architecture = "arm64"
    filename     = "pool/main/k/keyutils/libkeyutils1_1.6.3-2_arm64.deb"
    sha256       = "aac46cb6faec4e737502b3c2290b7b02f8ba04e8accd5af7fd07934df0c867b1"
    size         = 8844
  }

  package "libkrb5-3" {
    version      = "1.20.1-2+deb12u5"
    architecture = "arm64"
    filename     = "pool/main/k/krb5/libkrb5-3_1.20.1-2+deb12u5_arm64.deb"
    sha256       = "c3c7227f5db903a7a8b8936d47d1d79643edcda36365c4c992e1a96bcc2d4c7e"
    size         = 315528
  }

  package "libkrb5support0" {
    version      = "1.20.1-2+deb12u5"
    architecture = "arm64"
    filename     = "pool/main/k/krb5/libkrb5support0_1.20.1-2+deb12u5_arm64.deb"
    sha256       = "3043fd4a54b945a1b503170749527f825dcfc7add2f8bf5abb4a329deeb48f4a"
    size         = 32592
  }

  package "liblsan0" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/liblsan0_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "1422f9aafe1ef8adfe8568e34040409db374f06696990cd3a7a16de3f490dd58"
    size         = 926140
  }

  package "libmpc3" {
    version      = "1.3.1-1"
    architecture = "arm64"
    filename     = "pool/main/m/mpclib3/libmpc3_1.3.1-1_arm64.deb"
    sha256       = "19fd1712d02a9ee3eeff5b6678a8766a12f2858c3384258c7abc15edd891739f"
    size         = 49200
  }

  package "libmpfr6" {
    version      = "4.2.0-1"
    architecture = "arm64"
    filename     = "pool/main/m/mpfr4/libmpfr6_4.2.0-1_arm64.deb"
    sha256       = "d818fbfb555561bff56694cc628dc9939f393a07026aefd237e9c818b9f2cb77"
    size         = 600328
  }

  package "libnsl-dev" {
    version      = "1.3.0-2"
    architecture = "arm64"
    filename     = "pool/main/libn/libnsl/libnsl-dev_1.3.0-2_arm64.deb"
    sha256       = "baf8a2ef1e9faec26dd84e62d0e8b653f54d2211a7a89c1b67965aee8a3da790"
    size         = 66132
  }

  package "libnsl2" {
    version      = "1.3.0-2"
    architecture = "arm64"
    filename     = "pool/main/libn/libnsl/libnsl2_1.3.0-2_arm64.deb"
    sha256       = "8f9ba58b219779b43c4ccc78c79b0a23f721fc96323c202abb31e02f942104b3"
    size         = 36908
  }

  package "libssl3" {
    version      = "3.0.20-1~deb12u2"
    architecture = "arm64"
    filename     = "pool/main/o/openssl/libssl3_3.0.20-1~deb12u2_arm64.deb"
    sha256       = "a256e03cc3abd7243ac5c6ee91a9deb56478221ef0d3c2b0748551e13140c0bf"
    size         = 1823624
  }

  package "libstdc++6" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/libstdc++6_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "26e138c677a985775331373828a6c286c551ff397cb735d00e2383cb273d1cb2"
    size         = 556608
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
    architecture = "arm64"
    filename     = "pool/main/libt/libtirpc/libtirpc-dev_1.3.3+ds-1_arm64.deb"
    sha256       = "bec1ab917db9f30e08e209281ce5f073a2d4f7ac43aabb658780fccaa822341a"
    size         = 193960
  }

  package "libtirpc3" {
    version      = "1.3.3+ds-1"
    architecture = "arm64"
    filename     = "pool/main/libt/libtirpc/libtirpc3_1.3.3+ds-1_arm64.deb"
    sha256       = "deaf9ea54f74cab6690b4bc0b427f05cbe62cc073580d84f5f18a8d9e2ece401"
    size         = 80940
  }

  package "libtsan2" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/libtsan2_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "c805db45db024c7c38bdf5b2ab8fd126a6c5572893bd8a458c541a555dae3334"
    size         = 2178092
  }

  package "libubsan1" {
    version      = "12.2.0-14+deb12u1"
    architecture = "arm64"
    filename     = "pool/main/g/gcc-12/libubsan1_12.2.0-14+deb12u1_arm64.deb"
    sha256       = "3c658e6b8091f133bac398a4629383d74bef230215224cd2add6dab38ca4e4d8"
    size         = 861608
  }

  package "libzstd1" {
    version      = "1.5.4+dfsg2-5"
    architecture = "arm64"
    filename     = "pool/main/libz/libzstd/libzstd1_1.5.4+dfsg2-5_arm64.deb"
    sha256       = "95e173c9538f96ede4fc275ec7863f395a97dd0ea62454be9bc914efa1b9be93"
    size         = 250548
  }

  package "linux-libc-dev" {
    version      = "6.1.176-1"
    architecture = "arm64"
    filename     = "pool/main/l/linux/linux-libc-dev_6.1.176-1_arm64.deb"
    sha256       = "eeca5ec13bed7206f8171fab9a48e84119dcc20cc79557f104628447a524ad10"
    size         = 2280448
  }

  package "rpcsvc-proto" {
    version      = "1.4.3-1"
    architecture = "arm64"
    filename     = "pool/main/r/rpcsvc-proto/rpcsvc-proto_1.4.3-1_arm64.deb"
    sha256       = "2915158484a5bcb7fe2124944e66f859e7fb030d8ec6a4478ce273d385708851"
    size         = 59716
  }

  package "zlib1g" {
    version      = "1:1.2.13.dfsg-1"
    architecture = "arm64"
    filename     = "pool/main/z/zlib/zlib1g_1.2.13.dfsg-1_arm64.deb"
    sha256       = "52b8b8a145bbe1956bba82034f77022cbef0c3d0885c9e32d9817a7932fe1913"
    size         = 82744
  }
}
