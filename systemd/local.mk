# System integration, installed by `make install` (and so by the Debian
# package, debian/rules): the systemd units, tmpfiles.d and sysusers.d
# files, the configuration files for $(sysconfdir)/asg-agent and the
# example site.  The units and configuration files in the tree name the
# Debian paths (/usr/sbin, /usr/bin, /etc, /usr/share/asg-agent); they are
# rewritten for this build's directories on the way in.
SYSTEMD_UNITS = systemd/asg-health.service systemd/asg-health.socket systemd/asg-agent.service
ASG_CONF_FILES = conf/health.json conf/agent.json
EXTRA_DIST += $(SYSTEMD_UNITS) $(ASG_CONF_FILES) conf/drain.d/README \
	systemd/asg-agent.sysusers systemd/asg-agent.tmpfiles \
	debian/changelog debian/control debian/copyright debian/rules debian/postrm \
	debian/source/format debian/asg-agent.asg-health.logrotate

tmpfilesdir = $(prefix)/lib/tmpfiles.d
sysusersdir = $(prefix)/lib/sysusers.d
asgconfdir = $(sysconfdir)/asg-agent

asg_install_sed = sed -e 's|/usr/sbin/asg-health|$(sbindir)/asg-health|g' \
	-e 's|/usr/bin/asg-agent|$(bindir)/asg-agent|g' \
	-e 's|/etc/asg-agent|$(asgconfdir)|g' \
	-e 's|/usr/share/asg-agent|$(pkgdatadir)|g'

install-data-local: install-asg-system
uninstall-local: uninstall-asg-system

install-asg-system:
	$(MKDIR_P) '$(DESTDIR)$(systemdsystemunitdir)' '$(DESTDIR)$(tmpfilesdir)' \
		'$(DESTDIR)$(sysusersdir)' '$(DESTDIR)$(asgconfdir)/drain.d'
	for f in $(SYSTEMD_UNITS); do \
		$(asg_install_sed) '$(srcdir)/'$$f > '$(DESTDIR)$(systemdsystemunitdir)/'$${f#systemd/} && \
		chmod 644 '$(DESTDIR)$(systemdsystemunitdir)/'$${f#systemd/} || exit 1; \
	done
	$(INSTALL_DATA) '$(srcdir)/systemd/asg-agent.tmpfiles' '$(DESTDIR)$(tmpfilesdir)/asg-agent.conf'
	$(INSTALL_DATA) '$(srcdir)/systemd/asg-agent.sysusers' '$(DESTDIR)$(sysusersdir)/asg-agent.conf'
	for f in $(ASG_CONF_FILES); do \
		$(asg_install_sed) '$(srcdir)/'$$f > '$(DESTDIR)$(asgconfdir)/'$${f#conf/} && \
		chmod 644 '$(DESTDIR)$(asgconfdir)/'$${f#conf/} || exit 1; \
	done
	$(INSTALL_DATA) '$(srcdir)/conf/drain.d/README' '$(DESTDIR)$(asgconfdir)/drain.d/README'

uninstall-asg-system:
	for f in $(SYSTEMD_UNITS); do rm -f '$(DESTDIR)$(systemdsystemunitdir)/'$${f#systemd/}; done
	rm -f '$(DESTDIR)$(tmpfilesdir)/asg-agent.conf' '$(DESTDIR)$(sysusersdir)/asg-agent.conf'
	for f in $(ASG_CONF_FILES); do rm -f '$(DESTDIR)$(asgconfdir)/'$${f#conf/}; done
	rm -f '$(DESTDIR)$(asgconfdir)/drain.d/README'

.PHONY: install-asg-system uninstall-asg-system

# The example site, served by the packaged configuration.  examples/build-site.sh
# (regenerates the compressed siblings) stays in the source.
sitedir = $(pkgdatadir)/site
site_aboutdir = $(sitedir)/about
site_cssdir = $(sitedir)/css
site_imgdir = $(sitedir)/img
site_jsdir = $(sitedir)/js
dist_site_DATA = examples/site/index.html examples/site/index.html.br \
	examples/site/index.html.gz examples/site/404.html
dist_site_about_DATA = examples/site/about/index.html
dist_site_css_DATA = examples/site/css/site.css examples/site/css/site.css.br \
	examples/site/css/site.css.gz
dist_site_img_DATA = examples/site/img/logo.png
dist_site_js_DATA = examples/site/js/app.js
EXTRA_DIST += examples/build-site.sh
