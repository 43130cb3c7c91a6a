#!/bin/sh
# Renders each pages/NAME.txt into site/NAME.html: the first line is the
# title, the rest are paragraphs; [name] links to name.html.
set -eu
src="$1"; out="$2"
mkdir -p "$out"
for f in $(ls "$src"/*.txt | sort); do
	name=$(basename "$f" .txt)
	title=$(head -n 1 "$f")
	{
		sed "s/@TITLE@/${title} | ${SITE_TITLE}/" "$(dirname "$0")/header.html"
		tail -n +2 "$f" | awk '{ gsub(/\[[a-z]+\]/, "<a href=\"&.html\">&</a>"); gsub(/"\[/, "\""); gsub(/\]\.html/, ".html"); gsub(/>\[/, ">"); gsub(/\]</, "<"); print "<p>" $0 "</p>" }'
		cat "$(dirname "$0")/footer.html"
	} >"$out/$name.html"
done
# Written aside first: a redirect into $out would create MANIFEST while ls
# may still be reading the folder, listing it or not by chance.
ls "$out" | sort >/tmp/MANIFEST
mv /tmp/MANIFEST "$out/MANIFEST"
echo "rendered $(wc -l <"$out/MANIFEST") pages"
