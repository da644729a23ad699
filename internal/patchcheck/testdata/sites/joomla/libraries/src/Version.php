<?php
/**
 * Test fixture shaped like Joomla's version class.
 */
namespace Joomla\CMS;

final class Version
{
    const PRODUCT = 'Joomla!';
    const MAJOR_VERSION = 4;
    const MINOR_VERSION = 4;
    const PATCH_VERSION = 1;
    const EXTRA_VERSION = '';
    const RELEASE = '4.4';
    const DEV_STATUS = 'Stable';
}
